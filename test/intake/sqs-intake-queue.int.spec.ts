import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceDocumentArchive } from '../../src/eventstore/source-documents.ts';
import type { RetryPolicy } from '../../src/intake/intake-queue.ts';
import { SqsIntakeQueue } from '../../src/intake/sqs-intake-queue.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { sqsClientFor, startSqsEmulator, type SqsEmulator } from '../support/sqs-emulator.ts';
import { intakeQueueContract } from './intake-queue.contract.ts';

/*
 * Issue 15: the intake queue on SQS (FIFO), against an SQS-compatible server started here,
 * with the source documents and the queue's memory in a real PostgreSQL. SQS counts
 * visibility in whole seconds, so the contract runs on a policy in seconds.
 */
const SQS_RETRY: RetryPolicy = { maxAttempts: 3, firstBackoffMs: 1_000, maxBackoffMs: 4_000 };

let db: TestDatabase;
let emulator: SqsEmulator;
let queues: { queueUrl: string; deadLetterQueueUrl: string };
beforeAll(async () => {
  [db, emulator] = await Promise.all([createTestDatabase(), startSqsEmulator()]);
});
afterAll(async () => {
  await emulator?.stop();
  await db?.drop();
});

intakeQueueContract('SQS', {
  timing: { retry: SQS_RETRY, shortVisibilityMs: 1_000 },
  async reset() {
    queues = await emulator.fifoQueue();
    await db.pool.query('TRUNCATE intake_sqs_messages');
  },
  connect: () => new SqsIntakeQueue({ sqs: emulator.sqs, ...queues, db: db.pool, retry: SQS_RETRY }),
  elapse: (ms) => sleep(ms),
  findDocument: (documentId) => new SourceDocumentArchive(db.pool).find(documentId),
});

describe('SQS intake queue', () => {
  const document = { kind: 'test', contentType: 'text/plain', body: 'a notification' };

  // Notifications that arrive together are sent in SendMessageBatch calls of ten, at once.
  it('queues many notifications that arrive at once, each once, and hands them all out', async () => {
    queues = await emulator.fifoQueue();
    const queue = new SqsIntakeQueue({ sqs: emulator.sqs, ...queues, db: db.pool, retry: SQS_RETRY });
    const ids = Array.from({ length: 60 }, (_, i) => `burst-${i}`);
    const answers = await Promise.all(
      ids.map((id) => queue.enqueue({ deduplicationId: id, orderingKey: id, kind: 'test', document })),
    );
    expect(answers.every((a) => a.enqueued)).toBe(true);
    expect(new Set(answers.map((a) => a.messageId)).size).toBe(60);
    const received = [];
    for (let batch; (batch = await queue.receive({ max: 10, visibilityTimeoutMs: 30_000 })).length > 0;) {
      received.push(...batch);
    }
    expect(received.map((m) => m.deduplicationId).sort()).toEqual([...ids].sort());
  });

  it('keeps the order of one ordering key when more than ten of it arrive at once, whatever the network', async () => {
    queues = await emulator.fifoQueue();
    // A network that delays each request less than the one before: requests sent at once arrive in reverse.
    const sqs = sqsClientFor(emulator.endpoint);
    let sent = 0;
    sqs.middlewareStack.add(
      (next) => async (args) => {
        await sleep(Math.max(0, 200 - 40 * sent++));
        return next(args);
      },
      { step: 'finalizeRequest' },
    );
    const queue = new SqsIntakeQueue({ sqs, ...queues, db: db.pool, retry: SQS_RETRY });
    const ids = Array.from({ length: 45 }, (_, i) => `ordered-${String(i).padStart(2, '0')}`);
    await Promise.all(
      ids.map((id) => queue.enqueue({ deduplicationId: id, orderingKey: 'one', kind: 'test', document })),
    );
    const order = [];
    for (let message; ([message] = await queue.receive({ max: 10, visibilityTimeoutMs: 30_000 })), message;) {
      order.push(message.deduplicationId);
      await queue.ackAll([message]);
    }
    expect(order).toEqual(ids);
    sqs.destroy();
  });

  it('takes in what the redrive policy moved to the dead-letter queue, to list and retry it', async () => {
    queues = await emulator.fifoQueue({ maxReceiveCount: 2 });
    const queue = new SqsIntakeQueue({ sqs: emulator.sqs, ...queues, db: db.pool, retry: SQS_RETRY });
    const { messageId } = await queue.enqueue({ deduplicationId: 'poison', orderingKey: 'p', kind: 'test', document });
    // A worker that dies before it can say anything, twice: SQS moves the message on the next receive.
    for (let i = 0; i < 2; i++) {
      expect(await queue.receive({ max: 1, visibilityTimeoutMs: 1_000 })).toHaveLength(1);
      await sleep(1_100);
    }
    expect(await queue.receive({ max: 1, visibilityTimeoutMs: 1_000 })).toEqual([]);
    const [dead] = await queue.deadLetters();
    expect(dead).toMatchObject({ messageId, deduplicationId: 'poison', orderingKey: 'p' });
    // SQS's own count, approximate, and counting the receives that moved it.
    expect(dead!.attempts).toBeGreaterThanOrEqual(2);
    expect(dead!.reason).toMatch(/redrive policy/);
    expect(await queue.retryDeadLetter(messageId)).toBe(true);
    expect(await queue.receive({ max: 1, visibilityTimeoutMs: 1_000 })).toEqual([
      expect.objectContaining({ deduplicationId: 'poison', attempt: 1 }),
    ]);
  });

  it('remembers a deduplication id after SQS has forgotten it', async () => {
    queues = await emulator.fifoQueue();
    const first = new SqsIntakeQueue({ sqs: emulator.sqs, ...queues, db: db.pool, retry: SQS_RETRY });
    const sent = await first.enqueue({ deduplicationId: 'remembered', orderingKey: 'r', kind: 'test', document });
    await first.ackAll(await first.receive({ max: 1, visibilityTimeoutMs: 60_000 }));
    // A queue with no memory of it, as SQS is five minutes on; the same PostgreSQL.
    const forgetful = new SqsIntakeQueue({
      sqs: emulator.sqs,
      ...(await emulator.fifoQueue()),
      db: db.pool,
      retry: SQS_RETRY,
    });
    expect(
      await forgetful.enqueue({ deduplicationId: 'remembered', orderingKey: 'r', kind: 'test', document }),
    ).toEqual({ ...sent, enqueued: false });
    expect(await forgetful.receive({ max: 1, visibilityTimeoutMs: 60_000 })).toEqual([]);
  });

  it('forgets its record of messages sent before the retention, keeping dead letters', async () => {
    queues = await emulator.fifoQueue();
    await db.pool.query('TRUNCATE intake_sqs_messages');
    const queue = new SqsIntakeQueue({ sqs: emulator.sqs, ...queues, db: db.pool, retry: SQS_RETRY });
    const enqueue = (id: string) => queue.enqueue({ deduplicationId: id, orderingKey: id, kind: 'test', document });
    for (const id of ['old-1', 'old-2', 'old-dead', 'new']) await enqueue(id);
    const received = await queue.receive({ max: 10, visibilityTimeoutMs: 60_000 });
    await queue.fail(
      received.find((m) => m.deduplicationId === 'old-dead')!,
      'refused',
      { permanent: true },
    );
    await db.pool.query(
      `UPDATE intake_sqs_messages SET enqueued_at = now() - interval '20 days' WHERE deduplication_id LIKE 'old-%'`,
    );

    // Batches of one: the purge goes on until a batch comes back short.
    const cutoff = new Date(Date.now() - 14 * 86_400_000);
    expect(await queue.forgetProcessed(cutoff, { batch: 1 })).toBe(2);
    const { rows } = await db.pool.query('SELECT deduplication_id FROM intake_sqs_messages ORDER BY 1');
    expect(rows.map((r) => r.deduplication_id)).toEqual(['new', 'old-dead']);
    expect((await queue.deadLetters()).map((d) => d.deduplicationId)).toEqual(['old-dead']);
    expect(await queue.forgetProcessed(cutoff)).toBe(0);
  });

  it('takes ordering keys and deduplication ids longer than SQS allows (a Play purchase token)', async () => {
    queues = await emulator.fifoQueue();
    const queue = new SqsIntakeQueue({ sqs: emulator.sqs, ...queues, db: db.pool, retry: SQS_RETRY });
    const token = 'a'.repeat(300);
    await queue.enqueue({ deduplicationId: `google:${token}:1`, orderingKey: token, kind: 'test', document });
    await queue.enqueue({ deduplicationId: `google:${token}:2`, orderingKey: token, kind: 'test', document });
    const [first, ...rest] = await queue.receive({ max: 10, visibilityTimeoutMs: 60_000 });
    // Kept whole, and still one group: the second waits for the first.
    expect(first).toMatchObject({ deduplicationId: `google:${token}:1`, orderingKey: token });
    expect(rest).toEqual([]);
  });
});
