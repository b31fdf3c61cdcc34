import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { initialBuy } from '../support/apple-notifications.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/free-port.ts';
import { startSqsEmulator, type SqsEmulator } from '../support/sqs-emulator.ts';

/*
 * Issue 15: Subledger with INTAKE_QUEUE=sqs. App Store notifications are verified, their
 * documents archived in PostgreSQL, their messages sent to an SQS FIFO queue (an SQS server
 * started here), received by the intake worker with long polling, and processed into
 * entitlements. SQS forgets a deduplication id after five minutes: a notification that
 * comes back after that is processed again, and the ledger keeps its facts once.
 */
let emulator: SqsEmulator;
let harness: AppleHarness;
let queueUrl: string;
beforeAll(async () => {
  // The emulator takes any credentials; none are looked for anywhere else (no network).
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  emulator = await startSqsEmulator();
  const queues = await emulator.fifoQueue();
  queueUrl = queues.queueUrl;
  harness = await startAppleHarness({
    INTAKE_QUEUE: 'sqs',
    INTAKE_SQS_QUEUE_URL: queues.queueUrl,
    INTAKE_SQS_DEAD_LETTER_QUEUE_URL: queues.deadLetterQueueUrl,
    SQS_ENDPOINT: emulator.endpoint,
    AWS_REGION: 'us-east-1',
  });
});
afterAll(async () => {
  await harness?.stop();
  await emulator?.stop();
});

const DAY = 86_400_000;
const buy = initialBuy;
const ledgerSize = async () =>
  (await harness.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0]!.n;

describe('the intake queue on SQS', () => {
  it('carries a verified notification to the worker, which grants the entitlement', async () => {
    const user = randomUUID();
    const now = Date.now();
    expect(await harness.entitlementsOf(user, now)).toEqual([]);
    const answer = await harness.notify(buy(user, '4000000000000001', now));
    expect(answer.status).toBe(200);
    // Nothing in PostgreSQL's own queue: the message went to SQS.
    expect((await harness.counts()).queued).toBe(0);
    await harness.processed();
    expect(await harness.entitlementsOf(user, now + 1_000)).toEqual([
      expect.objectContaining({ id: 'premium', active: true, expiresAt: new Date(now + 30 * DAY).toISOString() }),
    ]);
  });

  it('changes nothing when a notification comes back after SQS forgot it', async () => {
    const user = randomUUID();
    const now = Date.now();
    const spec = buy(user, '4000000000000002', now);
    expect((await harness.notify(spec)).status).toBe(200);
    await harness.processed();
    const before = await ledgerSize();
    const granted = await harness.entitlementsOf(user, now + 1_000);
    expect(granted).toEqual([expect.objectContaining({ id: 'premium', active: true })]);

    // The store sends it again: known here, not sent to SQS again.
    expect((await harness.notify(spec)).status).toBe(200);
    // A copy reaches the worker all the same, as one would after five minutes (SQS no longer
    // deduplicates) from a crash between the send and its record: same message, new SQS id.
    const [{ document_id: documentId }] = (
      await harness.db.pool.query<{ document_id: string }>(
        'SELECT document_id FROM intake_sqs_messages ORDER BY enqueued_at DESC LIMIT 1',
      )
    ).rows as [{ document_id: string }];
    await emulator.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({
          deduplicationId: `apple:${spec.uuid}`,
          orderingKey: 'again',
          kind: 'apple.notification.v2',
          documentId,
        }),
        MessageGroupId: 'again',
        MessageDeduplicationId: randomUUID(),
      }),
    );
    await eventually(
      () => harness.subledger.queue.depth(),
      (depth) => depth === 0,
    );
    await harness.processed();
    expect(await ledgerSize()).toBe(before);
    expect(await harness.entitlementsOf(user, now + 1_000)).toEqual(granted);
    expect(await harness.subledger.queue.deadLetters()).toEqual([]);
  });

  it('answers 503 queue_unavailable when SQS cannot be reached, and the store retries it later', async () => {
    const away = await startAppleHarness({
      INTAKE_QUEUE: 'sqs',
      INTAKE_SQS_QUEUE_URL: `http://127.0.0.1:${await freePort()}/000000000000/away.fifo`,
      SQS_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      AWS_REGION: 'us-east-1',
      INTAKE_WORKER: 'off',
    });
    try {
      const answer = await away.notify(buy(randomUUID(), '4000000000000003', Date.now()));
      expect(answer).toMatchObject({ status: 503, body: { code: 'queue_unavailable' } });
      expect(answer.type).toContain('application/problem+json');
      // Nothing sent, so nothing remembered as sent: the store's retry is queued then.
      expect((await away.db.pool.query('SELECT count(*)::int AS n FROM intake_sqs_messages')).rows[0].n).toBe(0);
    } finally {
      await away.stop();
    }
  });
});
