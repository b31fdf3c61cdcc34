import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';

/*
 * Support staff see the intake messages that failed for good, with the reason, and put one
 * back in the queue over HTTP. The worker is off so that the test decides when messages are
 * processed: `intake.processBatch()` is the worker's own step.
 */
let harness: AppleHarness;
let admin: string;
let appServer: string;
beforeAll(async () => {
  harness = await startAppleHarness({ INTAKE_WORKER: 'off', RATE_LIMIT_PER_MINUTE: '0' });
  const keys = new ApiKeys(harness.db.pool);
  admin = (await keys.create('ops', 'admin')).secret;
  appServer = (await keys.create('backend', 'app-server')).secret;
});
beforeEach(() => harness.reset());
afterAll(() => harness?.stop());

async function call(method: string, path: string, credential: string | null = admin) {
  const response = await fetch(`${harness.subledger.url}${path}`, {
    method,
    headers: credential ? { authorization: `Bearer ${credential}` } : {},
  });
  const body = JSON.parse(await response.text());
  return { status: response.status, type: response.headers.get('content-type'), body };
}
const list = (query = '', as?: string | null) => call('GET', `/v1/admin/dead-letters${query}`, as);
const retry = (messageId: string, as?: string | null) => call('POST', `/v1/admin/dead-letters/${messageId}/retry`, as);

function expectProblem(answer: Awaited<ReturnType<typeof call>>, status: number, code: string) {
  expect({ status: answer.status, code: answer.body?.code }).toEqual({ status, code });
  expect(answer.type).toContain('application/problem+json');
}

/** An App Store notification accepted by the webhook, whose processing then failed for good. */
async function deadNotification(reason: string) {
  const signedDate = Date.now();
  expect((await harness.notify({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate })).status).toBe(200);
  const [delivery] = await harness.subledger.queue.receive({ max: 1, visibilityTimeoutMs: 60_000 });
  expect(await harness.subledger.queue.fail(delivery!, reason, { permanent: true })).toBe('dead');
  return delivery!;
}

describe('GET /v1/admin/dead-letters', () => {
  it('lists dead letters with their reason, the most recent failure first', async () => {
    const first = await deadNotification('Play Developer API unreachable');
    // A kind no handler takes: the worker itself dead-letters it, with its reason.
    await harness.subledger.queue.enqueue({
      deduplicationId: 'test:unknown-kind',
      orderingKey: 'test:1',
      kind: 'test.unknown',
      document: { kind: 'test.unknown', contentType: 'application/json', body: '{}' },
    });
    expect(await harness.subledger.intake.processBatch()).toBe(1);

    const answer = await list();
    expect(answer.status).toBe(200);
    expect(answer.body.deadLetters).toEqual([
      {
        messageId: expect.stringMatching(/^\d+$/),
        kind: 'test.unknown',
        deduplicationId: 'test:unknown-kind',
        orderingKey: 'test:1',
        documentId: expect.stringMatching(/^sha256:/),
        attempts: 1,
        reason: 'No handler for messages of kind test.unknown',
        enqueuedAt: expect.any(String),
        failedAt: expect.any(String),
      },
      expect.objectContaining({
        messageId: first.messageId,
        kind: 'apple.notification.v2',
        deduplicationId: first.deduplicationId,
        documentId: first.documentId,
        attempts: 1,
        reason: 'Play Developer API unreachable',
      }),
    ]);
    const [newest] = answer.body.deadLetters;
    expect(new Date(newest.failedAt).getTime()).toBeGreaterThanOrEqual(new Date(newest.enqueuedAt).getTime());
    expect((await list('?limit=1')).body.deadLetters).toHaveLength(1);
  });

  it('refuses a limit outside 1 to 500', async () => {
    expectProblem(await list('?limit=501'), 400, 'malformed_request');
    expectProblem(await list('?limit=0'), 400, 'malformed_request');
    expect((await list('?limit=500')).status).toBe(200);
  });
});

describe('POST /v1/admin/dead-letters/{messageId}/retry', () => {
  it('puts a dead letter back in the queue, where the worker processes it', async () => {
    const dead = await deadNotification('store API timed out');
    expect(await harness.counts()).toMatchObject({ events: 0, queued: 1 });

    expect(await retry(dead.messageId)).toMatchObject({
      status: 202,
      body: { messageId: dead.messageId, status: 'queued' },
    });
    expect((await list()).body.deadLetters).toEqual([]);
    expect(await harness.subledger.queue.depth()).toBe(1);

    // The cause is gone: this time it goes through.
    expect(await harness.subledger.intake.processBatch()).toBe(1);
    expect(await harness.subledger.queue.depth()).toBe(0);
    expect((await harness.counts()).events).toBeGreaterThan(0);
    expect((await list()).body.deadLetters).toEqual([]);
    // Processed, so no longer a dead letter to retry.
    expectProblem(await retry(dead.messageId), 404, 'unknown_dead_letter');
  });

  it('answers 404 unknown_dead_letter for an id that is no dead letter, and 400 for one that is no id', async () => {
    expectProblem(await retry('123456789'), 404, 'unknown_dead_letter');
    expectProblem(await retry('9223372036854775807'), 404, 'unknown_dead_letter');
    // Past a bigint, or an SQS-shaped id: no message of this queue.
    expectProblem(await retry('9223372036854775808'), 404, 'unknown_dead_letter');
    expectProblem(await retry('0b6d1c5e-35a1-4c4f-9b0e-4f1f2b3c4d5e'), 404, 'unknown_dead_letter');
    expectProblem(await retry('not%20an%20id'), 400, 'malformed_request');
    expectProblem(await retry('x'.repeat(129)), 400, 'malformed_request');
  });

  it('does not retry a message that is still waiting in the queue', async () => {
    expect((await harness.notify({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: Date.now() })).status).toBe(
      200,
    );
    const [waiting] = await harness.subledger.queue.receive({ max: 1, visibilityTimeoutMs: 60_000 });
    expectProblem(await retry(waiting!.messageId), 404, 'unknown_dead_letter');
  });
});

describe('who may see and retry dead letters', () => {
  it('needs an API key (401) of the admin role (403), and a refused retry changes nothing', async () => {
    const dead = await deadNotification('store API timed out');
    expectProblem(await list('', null), 401, 'unauthenticated');
    expectProblem(await list('', appServer), 403, 'forbidden');
    expectProblem(await retry(dead.messageId, null), 401, 'unauthenticated');
    expectProblem(await retry(dead.messageId, appServer), 403, 'forbidden');
    expect((await list()).body.deadLetters).toEqual([expect.objectContaining({ messageId: dead.messageId })]);
  });
});
