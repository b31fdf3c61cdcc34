import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SourceDocumentArchive } from '../../src/eventstore/source-documents.ts';
import type { NewIntakeMessage } from '../../src/intake/intake-queue.ts';
import { PostgresIntakeQueue } from '../../src/intake/postgres-intake-queue.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
let queue: PostgresIntakeQueue;
let documentId: string;
const policy = { maxAttempts: 3, firstBackoffMs: 40, maxBackoffMs: 1_000 };

beforeAll(async () => {
  db = await createTestDatabase();
  ({ documentId } = await new SourceDocumentArchive(db.pool).keep({
    kind: 'test',
    contentType: 'text/plain',
    body: 'a notification',
  }));
});
afterAll(() => db.drop());
beforeEach(async () => {
  await db.pool.query('TRUNCATE intake_messages');
  queue = new PostgresIntakeQueue(db.pool, policy);
});

const message = (id: string, orderingKey = id): NewIntakeMessage => ({
  deduplicationId: id,
  orderingKey,
  kind: 'test',
  document: { kind: 'test', contentType: 'text/plain', body: 'a notification' },
});
const receive = (visibilityTimeoutMs = 60_000, max = 10) => queue.receive({ max, visibilityTimeoutMs });

describe('PostgreSQL intake queue', () => {
  it('keeps one message per deduplication id, even after it was processed', async () => {
    const first = await queue.enqueue(message('n-1'));
    expect(await queue.enqueue(message('n-1'))).toEqual({ ...first, enqueued: false });
    expect(first.documentId).toBe(documentId); // the same body, archived once
    const [received] = await receive();
    await queue.ack(received!);
    expect((await queue.enqueue(message('n-1'))).enqueued).toBe(false);
    expect(await receive()).toEqual([]);
  });

  it('hides a message while it is being processed and delivers it again when the visibility timeout passes', async () => {
    await queue.enqueue(message('n-1'));
    const [first] = await receive(50);
    expect(first).toMatchObject({ deduplicationId: 'n-1', attempt: 1 });
    expect(await receive(50)).toEqual([]);
    await sleep(80);
    const [again] = await receive(50);
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

  it('never gives the same message to two receivers at once', async () => {
    for (let i = 0; i < 40; i++) await queue.enqueue(message(`n-${i}`));
    const other = new PostgresIntakeQueue(db.pool, policy);
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
    await sleep(60);
    delivery = (await receive())[0]!;
    expect(delivery.attempt).toBe(2);
    expect(await queue.fail(delivery, 'store API timed out')).toBe('retry');
    await sleep(100);
    delivery = (await receive())[0]!;
    expect(delivery.attempt).toBe(3);
    expect(await queue.fail(delivery, 'store API timed out again')).toBe('dead');

    expect(await receive()).toEqual([]);
    expect(await queue.deadLetters()).toEqual([
      expect.objectContaining({ deduplicationId: 'n-1', attempts: 3, reason: 'store API timed out again' }),
    ]);
    expect(await queue.depth()).toBe(0);
  });

  it('dead-letters a permanent failure at once, and can put it back', async () => {
    await queue.enqueue(message('n-1'));
    const delivery = (await receive())[0]!;
    expect(await queue.fail(delivery, 'unknown product', { permanent: true })).toBe('dead');
    const [dead] = await queue.deadLetters();
    expect(await queue.retryDeadLetter(dead!.messageId)).toBe(true);
    expect(await queue.retryDeadLetter(dead!.messageId)).toBe(false);
    expect(await receive()).toEqual([expect.objectContaining({ deduplicationId: 'n-1', attempt: 1 })]);
  });

  it('acknowledges a batch at once, but only the deliveries that are still the receiver’s', async () => {
    await queue.enqueue(message('n-1'));
    await queue.enqueue(message('n-2'));
    const [first, second] = await receive();
    const stale = { ...second!, receipt: '00000000-0000-4000-8000-000000000000' };
    expect(await queue.ackAll([first!, stale])).toBe(1);
    const { rows } = await db.pool.query(`SELECT deduplication_id, state FROM intake_messages ORDER BY 1`);
    expect(rows).toEqual([
      { deduplication_id: 'n-1', state: 'done' },
      { deduplication_id: 'n-2', state: 'pending' },
    ]);
  });
});
