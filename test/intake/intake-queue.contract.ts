import { beforeEach, describe, expect, it } from 'vitest';
import { documentIdOf, type SourceDocument } from '../../src/eventstore/source-documents.ts';
import type { IntakeQueue, NewIntakeMessage, RetryPolicy } from '../../src/intake/intake-queue.ts';

/** The policy an adapter runs the contract with unless it says otherwise: short, so real time can be waited out. */
export const CONTRACT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, firstBackoffMs: 40, maxBackoffMs: 1_000 };

export interface IntakeQueueContractSetup {
  /** Empties the queue. */
  reset(): Promise<void>;
  /**
   * The queue's time steps, when it cannot take the contract's (SQS counts visibility in
   * whole seconds): the retry policy its queues use, and the visibility timeout the contract
   * uses to see a message come back. The contract's waits are multiples of these.
   */
  readonly timing?: { readonly retry: RetryPolicy; readonly shortVisibilityMs: number };
  /**
   * A queue over it with the timing's retry policy (CONTRACT_RETRY_POLICY by default). For a queue behind a server, each call a
   * separate instance, as separate processes would have; a queue in memory returns the same one.
   */
  connect(): IntakeQueue;
  /** Lets `ms` pass: a real wait for a server, the clock moved on for a queue with its own. */
  elapse(ms: number): Promise<void>;
  /** The archived document with this id, to see that enqueueing kept it. */
  findDocument(documentId: string): Promise<SourceDocument | undefined>;
}

/**
 * The guarantees every IntakeQueue adapter must keep (SQS FIFO's: at-least-once
 * delivery, visibility timeout, deduplication id, ordering key). An adapter's spec
 * file calls this with its setup.
 */
export function intakeQueueContract(adapter: string, setup: IntakeQueueContractSetup) {
  describe(`IntakeQueue contract: ${adapter}`, () => {
    let queue: IntakeQueue;
    beforeEach(async () => {
      await setup.reset();
      queue = setup.connect();
    });

    const body = 'a notification';
    const message = (id: string, orderingKey = id): NewIntakeMessage => ({
      deduplicationId: id,
      orderingKey,
      kind: 'test',
      document: { kind: 'test', contentType: 'text/plain', body },
    });
    const receive = (visibilityTimeoutMs = 60_000, max = 10) => queue.receive({ max, visibilityTimeoutMs });
    const { retry, shortVisibilityMs: short } = setup.timing ?? { retry: CONTRACT_RETRY_POLICY, shortVisibilityMs: 50 };
    /** Waits `factor` times the first backoff (the second backoff is twice the first). */
    const backoffs = (factor: number) => setup.elapse(factor * retry.firstBackoffMs);

    it('keeps one message per deduplication id, even after it was processed', async () => {
      const first = await queue.enqueue(message('n-1'));
      expect(await queue.enqueue(message('n-1'))).toEqual({ ...first, enqueued: false });
      expect(first.documentId).toBe(documentIdOf(body)); // the same body, archived once
      const [received] = await receive();
      await queue.ack(received!);
      expect((await queue.enqueue(message('n-1'))).enqueued).toBe(false);
      expect(await receive()).toEqual([]);
    });

    it('keeps one message per deduplication id when the same notification arrives many times at once', async () => {
      const answers = await Promise.all([...Array(20)].map((_, i) => queue.enqueue(message(`n-${i % 5}`))));
      // Per id: one caller queued it; every caller learned the same message.
      for (const id of [0, 1, 2, 3, 4]) {
        const same = answers.filter((_, i) => i % 5 === id);
        expect(same.filter((a) => a.enqueued)).toHaveLength(1);
        expect(new Set(same.map((a) => a.messageId)).size).toBe(1);
      }
      expect(new Set(answers.map((a) => a.messageId)).size).toBe(5);
      const received = await receive(60_000, 10);
      expect(received.map((m) => m.deduplicationId).sort()).toEqual(['n-0', 'n-1', 'n-2', 'n-3', 'n-4']);
    });

    it('keeps the document in the archive and hands it out with the message', async () => {
      const { enqueued, messageId, documentId } = await queue.enqueue(message('n-1'));
      expect(enqueued).toBe(true);
      expect(await setup.findDocument(documentId)).toMatchObject({ kind: 'test', contentType: 'text/plain', body });
      const [received] = await receive();
      expect(received).toMatchObject({
        messageId,
        deduplicationId: 'n-1',
        orderingKey: 'n-1',
        kind: 'test',
        documentId,
      });
      expect(received!.enqueuedAt).toBeInstanceOf(Date);
    });

    it('hides a message while it is being processed and delivers it again when the visibility timeout passes', async () => {
      await queue.enqueue(message('n-1'));
      const [first] = await receive(short);
      expect(first).toMatchObject({ deduplicationId: 'n-1', attempt: 1 });
      expect(await receive(short)).toEqual([]);
      await setup.elapse(1.6 * short);
      const [again] = await receive(short);
      expect(again).toMatchObject({ deduplicationId: 'n-1', attempt: 2 });
      // The first receiver was too slow: its ack no longer counts.
      expect(await queue.ack(first!)).toBe(false);
      expect(await queue.ack(again!)).toBe(true);
      expect(await queue.depth()).toBe(0);
    });

    it('hands out the messages of one ordering key one at a time, oldest first', async () => {
      await queue.enqueue(message('a-1', 'sub-a'));
      await queue.enqueue(message('a-2', 'sub-a'));
      await queue.enqueue(message('b-1', 'sub-b'));
      const firstRound = await receive();
      expect(firstRound.map((m) => m.deduplicationId)).toEqual(['a-1', 'b-1']);
      expect(await receive()).toEqual([]);
      await queue.ack(firstRound[0]!);
      expect((await receive()).map((m) => m.deduplicationId)).toEqual(['a-2']);
    });

    it('holds the rest of an ordering key back while its oldest message backs off, and lets it go once that one is dead', async () => {
      await queue.enqueue(message('a-1', 'sub-a'));
      await queue.enqueue(message('a-2', 'sub-a'));
      const [head] = await receive();
      expect(await queue.fail(head!, 'store API timed out')).toBe('retry');
      expect(await receive()).toEqual([]);
      await backoffs(1.5);
      const [again] = await receive();
      expect(again).toMatchObject({ deduplicationId: 'a-1', attempt: 2 });
      expect(await queue.fail(again!, 'unknown product', { permanent: true })).toBe('dead');
      expect((await receive()).map((m) => m.deduplicationId)).toEqual(['a-2']);
    });

    it('hands out at most `max` messages, oldest first', async () => {
      for (let i = 0; i < 5; i++) await queue.enqueue(message(`n-${i}`));
      expect((await receive(60_000, 2)).map((m) => m.deduplicationId)).toEqual(['n-0', 'n-1']);
      expect((await receive(60_000, 10)).map((m) => m.deduplicationId)).toEqual(['n-2', 'n-3', 'n-4']);
    });

    it('never gives the same message to two receivers at once', async () => {
      for (let i = 0; i < 40; i++) await queue.enqueue(message(`n-${i}`));
      const other = setup.connect();
      const batches = await Promise.all([
        receive(60_000, 15),
        other.receive({ max: 15, visibilityTimeoutMs: 60_000 }),
        receive(60_000, 15),
      ]);
      const ids = batches.flat().map((m) => m.deduplicationId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(40);
    });

    it('retries a failed message after a growing backoff, then dead-letters it with the reason', async () => {
      await queue.enqueue(message('n-1'));
      let delivery = (await receive())[0]!;
      expect(await queue.fail(delivery, 'store API timed out')).toBe('retry');
      expect(await receive()).toEqual([]); // backing off
      await backoffs(1.5);
      delivery = (await receive())[0]!;
      expect(delivery.attempt).toBe(2);
      expect(await queue.fail(delivery, 'store API timed out')).toBe('retry');
      await backoffs(2.5);
      delivery = (await receive())[0]!;
      expect(delivery.attempt).toBe(3);
      expect(await queue.fail(delivery, 'store API timed out again')).toBe('dead');

      expect(await receive()).toEqual([]);
      expect(await queue.deadLetters()).toEqual([
        expect.objectContaining({ deduplicationId: 'n-1', attempts: 3, reason: 'store API timed out again' }),
      ]);
      expect(await queue.depth()).toBe(0);
    });

    it('doubles the backoff: a second failure waits longer than the first', async () => {
      await queue.enqueue(message('n-1'));
      expect(await queue.fail((await receive())[0]!, 'timed out')).toBe('retry'); // one backoff
      await backoffs(1.5);
      expect(await queue.fail((await receive())[0]!, 'timed out')).toBe('retry'); // two
      await backoffs(1.125); // past the first backoff, not the second
      expect(await receive()).toEqual([]);
      await backoffs(1.5);
      expect(await receive()).toEqual([expect.objectContaining({ attempt: 3 })]);
    });

    it('dead-letters a permanent failure at once, and can put it back', async () => {
      await queue.enqueue(message('n-1'));
      const delivery = (await receive())[0]!;
      expect(await queue.fail(delivery, 'unknown product', { permanent: true })).toBe('dead');
      const [dead] = await queue.deadLetters();
      expect(dead).toMatchObject({ messageId: delivery.messageId, attempts: 1, reason: 'unknown product' });
      expect(dead!.failedAt).toBeInstanceOf(Date);
      expect(await queue.retryDeadLetter(dead!.messageId)).toBe(true);
      expect(await queue.retryDeadLetter(dead!.messageId)).toBe(false);
      expect(await queue.deadLetters()).toEqual([]);
      expect(await receive()).toEqual([expect.objectContaining({ deduplicationId: 'n-1', attempt: 1 })]);
    });

    it('lists dead letters newest first, up to a limit', async () => {
      for (const id of ['n-1', 'n-2', 'n-3']) {
        await queue.enqueue(message(id));
        await queue.fail((await receive())[0]!, `${id} failed`, { permanent: true });
        await setup.elapse(5);
      }
      expect((await queue.deadLetters()).map((d) => d.deduplicationId)).toEqual(['n-3', 'n-2', 'n-1']);
      expect((await queue.deadLetters({ limit: 2 })).map((d) => d.deduplicationId)).toEqual(['n-3', 'n-2']);
      expect(await queue.retryDeadLetter('999999')).toBe(false);
    });

    it('ignores a failure reported by a receiver whose delivery has expired', async () => {
      await queue.enqueue(message('n-1'));
      const [stale] = await receive(short);
      await setup.elapse(1.6 * short);
      const [current] = await receive(60_000);
      await queue.fail(stale!, 'too late', { permanent: true });
      expect(await queue.deadLetters()).toEqual([]);
      expect(await queue.ack(current!)).toBe(true);
    });

    it('acknowledges a batch at once, but only the deliveries that are still the receiver’s', async () => {
      await queue.enqueue(message('n-1'));
      await queue.enqueue(message('n-2'));
      const [first, second] = await receive();
      const stale = { ...second!, receipt: '00000000-0000-4000-8000-000000000000' };
      expect(await queue.ackAll([first!, stale])).toBe(1);
      expect(await queue.ackAll([])).toBe(0);
      expect(await queue.depth()).toBe(1);
      expect(await queue.ack(first!)).toBe(false); // done already
      expect(await queue.ack(second!)).toBe(true);
    });

    it('forgets processed messages, keeping dead letters: a redelivery of a forgotten one is queued again', async () => {
      await queue.enqueue(message('processed'));
      await queue.enqueue(message('dead'));
      const received = await receive();
      await queue.ack(received.find((m) => m.deduplicationId === 'processed')!);
      await queue.fail(
        received.find((m) => m.deduplicationId === 'dead')!,
        'broken',
        { permanent: true },
      );
      // Everything queued so far is older than this (each queue's own dating is tested with it).
      expect(await queue.forgetProcessed(new Date('9999-12-31T00:00:00Z'))).toBe(1);
      expect((await queue.enqueue(message('processed'))).enqueued).toBe(true);
      expect((await queue.enqueue(message('dead'))).enqueued).toBe(false);
      expect((await queue.deadLetters()).map((d) => d.deduplicationId)).toEqual(['dead']);
    });

    it('counts the messages waiting or in flight as its depth, not those done or dead', async () => {
      for (const id of ['n-1', 'n-2', 'n-3', 'n-4']) await queue.enqueue(message(id));
      expect(await queue.depth()).toBe(4);
      const [done, dead, inFlight] = await receive(60_000, 3);
      await queue.ack(done!);
      await queue.fail(dead!, 'bad', { permanent: true });
      expect(inFlight).toBeDefined();
      expect(await queue.depth()).toBe(2);
    });
  });
}
