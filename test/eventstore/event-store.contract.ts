import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import {
  WrongExpectedVersionError,
  type EventStore,
  type NewEvent,
  type RecordedEvent,
} from '../../src/eventstore/event-store.ts';
import { START, comparePositions, type GlobalPosition } from '../../src/eventstore/global-position.ts';

export interface ContractSetup {
  /** Empties the store. */
  reset(): Promise<void>;
  /**
   * A store over it. For a store behind a server, each call a separate instance, as
   * separate processes would have; a store inside this process returns the same one.
   */
  connect(): EventStore;
}

/**
 * The guarantees every EventStore adapter must keep. An adapter's spec file calls
 * this with its setup. Other test files may share a database server, so reads of
 * the global order wait for what they expect (`eventually`) instead of assuming
 * that nothing else holds the server's visibility horizon back.
 */
export function eventStoreContract(adapter: string, setup: ContractSetup) {
  describe(`EventStore contract: ${adapter}`, () => {
    let store: EventStore;
    beforeEach(async () => {
      await setup.reset();
      store = setup.connect();
    });
    /** Writers in different processes: no shared in-memory queue between them. */
    const writers = (n: number) => Array.from({ length: n }, () => setup.connect());

    const event = (type = 'Happened', data: unknown = { n: Math.random() }): NewEvent => ({
      id: randomUUID(),
      type,
      data,
      metadata: { correlationId: 'corr-1', causationId: 'cause-1', storeTime: '2026-01-02T03:04:05.000Z' },
    });
    const stream = () => `test-${randomUUID()}`;

    async function readEverything(after: GlobalPosition = START, limit = 1000): Promise<RecordedEvent[]> {
      const all: RecordedEvent[] = [];
      for (let page = await store.readAll({ after, limit }); page.length > 0;) {
        all.push(...page);
        page = await store.readAll({ after: page.at(-1)!.position, limit });
      }
      return all;
    }

    describe('append', () => {
      it('starts a stream at version 0 and keeps type, data and metadata', async () => {
        const id = stream();
        const first = event('Started', { plan: 'monthly', nested: { list: [1, 2] } });
        const result = await store.append(id, [first], { expectedVersion: 'no_stream' });
        expect(result).toMatchObject({ outcome: 'appended', streamVersion: 0, alreadyRecorded: [] });

        const [read] = await store.readStream(id);
        expect(read).toMatchObject({
          id: first.id,
          type: 'Started',
          data: { plan: 'monthly', nested: { list: [1, 2] } },
          metadata: first.metadata,
          streamId: id,
          streamVersion: 0,
        });
        expect(read!.recordedAt).toBeInstanceOf(Date);
        expect(comparePositions(read!.position, result.position)).toBe(0);
      });

      it('writes a batch atomically with consecutive versions', async () => {
        const id = stream();
        await store.append(id, [event()], { expectedVersion: 'no_stream' });
        const result = await store.append(id, [event(), event(), event()], { expectedVersion: 0 });
        expect(result).toMatchObject({ outcome: 'appended', streamVersion: 3 });
        expect((await store.readStream(id)).map((e) => e.streamVersion)).toEqual([0, 1, 2, 3]);
      });

      it.each([
        ['a version behind', 0],
        ['a version ahead', 5],
        ['no_stream for an existing stream', 'no_stream' as const],
      ])('rejects %s with WrongExpectedVersionError and writes nothing', async (_, expectedVersion) => {
        const id = stream();
        await store.append(id, [event(), event()], { expectedVersion: 'no_stream' });
        // The newest committed event, whatever readers may see yet (another database's open
        // transaction on the same server can hold readAll back).
        const head = await store.headPosition();

        const attempt = store.append(id, [event()], { expectedVersion });
        await expect(attempt).rejects.toBeInstanceOf(WrongExpectedVersionError);
        await expect(attempt).rejects.toMatchObject({ streamId: id, actual: 1 });
        expect(await store.readStream(id)).toHaveLength(2);
        expect(comparePositions(await store.headPosition(), head)).toBe(0);
      });

      it('rejects stream_exists for a stream that does not exist', async () => {
        const id = stream();
        await expect(store.append(id, [event()], { expectedVersion: 'stream_exists' })).rejects.toMatchObject({
          actual: 'no_stream',
        });
        expect(await store.readStream(id)).toEqual([]);
      });

      it('accepts stream_exists for a stream that exists', async () => {
        const id = stream();
        await store.append(id, [event()], { expectedVersion: 'no_stream' });
        expect(await store.append(id, [event()], { expectedVersion: 'stream_exists' })).toMatchObject({
          outcome: 'appended',
          streamVersion: 1,
        });
      });

      it("appends anywhere with 'any'", async () => {
        const id = stream();
        await store.append(id, [event()], { expectedVersion: 'any' });
        expect(await store.append(id, [event()], { expectedVersion: 'any' })).toMatchObject({ streamVersion: 1 });
      });

      it('lets exactly one of several writers with the same expected version win', async () => {
        const id = stream();
        await store.append(id, [event()], { expectedVersion: 'no_stream' });
        const results = await Promise.allSettled(
          writers(5).map((writer) => writer.append(id, [event()], { expectedVersion: 0 })),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results.filter((r) => r.status === 'rejected')) {
          expect((r as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedVersionError);
        }
        expect(await store.readStream(id)).toHaveLength(2);
      });
    });

    it('gives each of many concurrent appends its own outcome', async () => {
      const taken = stream();
      await store.append(taken, [event()], { expectedVersion: 'no_stream' });
      const fresh = Array.from({ length: 10 }, () => stream());
      const results = await Promise.allSettled([
        ...fresh.map((id) => store.append(id, [event(), event()], { expectedVersion: 'no_stream' })),
        ...Array.from({ length: 10 }, () => store.append(taken, [event()], { expectedVersion: 'no_stream' })),
      ]);
      expect(results.slice(0, 10).map((r) => r.status)).toEqual(Array(10).fill('fulfilled'));
      for (const r of results.slice(10)) {
        expect(r).toMatchObject({ status: 'rejected', reason: expect.any(WrongExpectedVersionError) });
      }
      for (const id of fresh) expect(await store.readStream(id)).toHaveLength(2);
      expect(await store.readStream(taken)).toHaveLength(1);
    });

    it('rejects events without a UUID id and writes nothing', async () => {
      const id = stream();
      await expect(
        store.append(id, [{ ...event(), id: 'not-a-uuid' }], { expectedVersion: 'any' }),
      ).rejects.toBeInstanceOf(TypeError);
      expect(await store.readStream(id)).toEqual([]);
    });

    it('rejects an empty batch, a batch naming one event twice and a malformed expected version', async () => {
      const id = stream();
      const e = event();
      await expect(store.append(id, [], { expectedVersion: 'any' })).rejects.toBeInstanceOf(TypeError);
      await expect(store.append(id, [e, e], { expectedVersion: 'any' })).rejects.toBeInstanceOf(TypeError);
      await expect(store.append(id, [event()], { expectedVersion: -3 })).rejects.toBeInstanceOf(RangeError);
      await expect(store.append(id, [event()], { expectedVersion: 1.5 })).rejects.toBeInstanceOf(RangeError);
      expect(await store.readStream(id)).toEqual([]);
    });

    it('keeps what was appended, whatever the caller does to its objects afterwards', async () => {
      const id = stream();
      const data = { plan: 'monthly', items: ['a'] };
      await store.append(id, [event('Started', data)], { expectedVersion: 'no_stream' });
      data.plan = 'yearly';
      data.items.push('b');
      const [read] = await store.readStream(id);
      expect(read!.data).toEqual({ plan: 'monthly', items: ['a'] });
      (read!.data as { plan: string }).plan = 'changed by a reader';
      expect((await store.readStream(id))[0]!.data).toEqual({ plan: 'monthly', items: ['a'] });
    });

    describe('idempotent appends', () => {
      it('knows an event id across streams: an event stored in one is already recorded for another', async () => {
        const [first, second] = [stream(), stream()];
        const e = event();
        await store.append(first, [e], { expectedVersion: 'no_stream' });
        const again = await store.append(second, [e], { expectedVersion: 'no_stream' });
        expect(again.outcome).toBe('already_recorded');
        expect(await store.readStream(second)).toEqual([]);
        expect(await store.readStream(first)).toHaveLength(1);
      });

      it('checks the expected version against the stream when only some events of a batch are new', async () => {
        const id = stream();
        const known = event();
        await store.append(id, [known, event()], { expectedVersion: 'no_stream' });
        await expect(store.append(id, [known, event()], { expectedVersion: 0 })).rejects.toBeInstanceOf(
          WrongExpectedVersionError,
        );
        expect(await store.readStream(id)).toHaveLength(2);
      });

      it('reports an event already stored as already recorded, even with a stale expected version', async () => {
        const id = stream();
        const e = event();
        const first = await store.append(id, [e], { expectedVersion: 'no_stream' });
        await store.append(id, [event()], { expectedVersion: 0 });

        const again = await store.append(id, [e], { expectedVersion: 'no_stream' });
        expect(again).toMatchObject({ outcome: 'already_recorded', streamVersion: 1 });
        expect(comparePositions(again.position, first.position)).toBe(0);
        expect(await store.readStream(id)).toHaveLength(2);
      });

      it('leaves out the events of a batch that are stored and appends the rest', async () => {
        const id = stream();
        const known = event();
        await store.append(id, [known], { expectedVersion: 'no_stream' });
        const fresh = event();
        const result = await store.append(id, [known, fresh], { expectedVersion: 0 });
        expect(result).toMatchObject({ outcome: 'appended', streamVersion: 1, alreadyRecorded: [known.id] });
        expect((await store.readStream(id)).map((e) => e.id)).toEqual([known.id, fresh.id]);
      });

      it('stores an event once when several writers race to append it', async () => {
        const id = stream();
        const e = event();
        const results = await Promise.all(
          writers(6).map((writer) => writer.append(id, [e], { expectedVersion: 'any' })),
        );
        expect(results.filter((r) => r.outcome === 'appended')).toHaveLength(1);
        expect(await store.readStream(id)).toHaveLength(1);
      });

      it("never fails an 'any' append because another writer got there first", async () => {
        const racing = writers(8);
        // Warm up: every writer has a connection open, so the race below is a real one.
        await Promise.all(racing.map((writer) => writer.append(stream(), [event()], { expectedVersion: 'any' })));
        for (let round = 0; round < 3; round++) {
          const id = stream();
          const results = await Promise.all(
            racing.map((writer) => writer.append(id, [event()], { expectedVersion: 'any' })),
          );
          expect(results.map((r) => r.outcome)).toEqual(Array(8).fill('appended'));
          expect((await store.readStream(id)).map((e) => e.streamVersion)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        }
      });
    });

    describe('reading', () => {
      it('starts empty: no events, head at the start', async () => {
        expect(comparePositions(await store.headPosition(), START)).toBe(0);
        expect(await store.readAll({ after: START, limit: 10 })).toEqual([]);
      });

      it('reads at most `limit` events, strictly after the position given', async () => {
        const start = await store.headPosition();
        await store.append(stream(), [event(), event(), event(), event()], { expectedVersion: 'no_stream' });
        const all = await eventually(
          () => store.readAll({ after: start, limit: 10 }),
          (events) => events.length >= 4,
        );
        const page = await store.readAll({ after: all[0]!.position, limit: 2 });
        expect(page.map((e) => e.id)).toEqual(all.slice(1, 3).map((e) => e.id));
        expect(await store.readAll({ after: all[3]!.position, limit: 10 })).toEqual([]);
      });

      it('reads a stream forwards from a version', async () => {
        const id = stream();
        await store.append(id, [event(), event(), event()], { expectedVersion: 'no_stream' });
        expect((await store.readStream(id, { fromVersion: 1 })).map((e) => e.streamVersion)).toEqual([1, 2]);
        expect(await store.readStream(stream())).toEqual([]);
      });

      it('reads all streams in append order, page by page, each event once', async () => {
        const start = await store.headPosition();
        const appended: string[] = [];
        for (let i = 0; i < 7; i++) {
          const batch = [event(), event()];
          await store.append(stream(), batch, { expectedVersion: 'no_stream' });
          appended.push(...batch.map((e) => e.id));
        }
        const read = await eventually(
          () => readEverything(start, 3),
          (all) => all.length >= appended.length,
        );
        expect(read.map((e) => e.id)).toEqual(appended);
        for (let i = 1; i < read.length; i++) {
          expect(comparePositions(read[i - 1]!.position, read[i]!.position)).toBe(-1);
        }
      });

      it('reports the head position of the newest event', async () => {
        const result = await store.append(stream(), [event()], { expectedVersion: 'no_stream' });
        const head = await eventually(
          () => store.headPosition(),
          (position) => comparePositions(position, result.position) >= 0,
        );
        expect(comparePositions(head, result.position)).toBe(0);
      });
    });
  });
}
