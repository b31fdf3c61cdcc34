import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { recordPurchase } from '../../src/ingest/record-purchase.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { appleKey, fact, period, started } from '../support/purchase-facts.ts';

/*
 * Support staff's writes over real HTTP: each answers once the customer's next read shows
 * it (no waiting or retrying in these tests), a retry with the same Idempotency-Key gets
 * the first answer without the work being done again, and the refusals are problems with
 * a code that change nothing.
 */
let harness: AppleHarness;
let admin: string;
let otherAdmin: string;

beforeAll(async () => {
  harness = await startAppleHarness();
  const keys = new ApiKeys(harness.db.pool);
  admin = (await keys.create('support: sam', 'admin')).secret;
  otherAdmin = (await keys.create('support: kim', 'admin')).secret;
});
afterAll(() => harness?.stop());

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, any> | null;
}

async function call(
  method: string,
  path: string,
  options: { body?: unknown; key?: string; credential?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await fetch(`${harness.subledger.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${options.credential ?? admin}`,
      ...(options.body !== undefined && { 'content-type': 'application/json' }),
      ...(options.key !== undefined && { 'idempotency-key': options.key }),
      ...options.headers,
    },
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

const grant = (appUserId: string, body: Record<string, unknown>, key?: string, credential?: string) =>
  call('POST', `/v1/admin/customers/${appUserId}/grants`, {
    body,
    ...(key !== undefined && { key }),
    ...(credential !== undefined && { credential }),
  });
const monthly = { productId: 'premium_monthly', durationDays: 30, reason: 'apology for the outage' };
const premiumOf = async (appUserId: string) =>
  (await call('GET', `/v1/customers/${appUserId}`)).body!.entitlements.premium;
const tokenScope = async (appUserId: string) => (await call('POST', `/v1/customers/${appUserId}/tokens`)).body!.scope;
/** The grants recorded for the customer: the promotional purchases started in their history. */
const grantsOf = async (appUserId: string) =>
  (
    (await call('GET', `/v1/admin/customers/${appUserId}/history?store=promotional`)).body!.entries as {
      type: string;
    }[]
  ).filter((e) => e.type === 'SubscriptionStarted' || e.type === 'OneTimeProductPurchased').length;
const eventCount = async () => (await harness.db.pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n;

function expectProblem(answer: Answer, status: number, code: string) {
  expect({ status: answer.status, code: answer.body?.code }).toEqual({ status, code });
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
}

describe('read your writes', () => {
  it('shows a grant, and its end, in the very next read and token', async () => {
    // Cached first, without premium: the grant must reach the cache too.
    expect(await tokenScope('mia')).toEqual([]);
    const given = await grant('mia', monthly);
    expect(given.status).toBe(201);
    expect(await tokenScope('mia')).toEqual(['premium']);
    expect(await premiumOf('mia')).toMatchObject({ active: true, purchaseId: given.body!.grantId });

    const ended = await call('DELETE', `/v1/admin/customers/mia/grants/${given.body!.grantId}?reason=mistake`);
    expect(ended.status).toBe(204);
    expect(await tokenScope('mia')).toEqual([]);
    expect(await premiumOf('mia')).toMatchObject({ active: false });
  });

  it('shows a transfer on both sides in their very next reads', async () => {
    await grant('anonymous-ned', monthly);
    expect(await tokenScope('ned')).toEqual([]);
    const moved = await call('POST', '/v1/admin/customers/anonymous-ned/transfer', {
      body: { to: 'ned', reason: 'signed in' },
    });
    expect(moved.status).toBe(200);
    expect(await tokenScope('ned')).toEqual(['premium']);
    expect(await tokenScope('anonymous-ned')).toEqual([]);
  });
});

describe('Idempotency-Key', () => {
  it('answers a retried grant with the first answer, and grants once', async () => {
    const key = randomUUID();
    const first = await grant('olga', monthly, key);
    const retry = await grant('olga', monthly, key);
    expect(first.status).toBe(201);
    expect(retry).toMatchObject({ status: 201, body: first.body });
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(await grantsOf('olga')).toBe(1);
    // Without a key, each request is a new grant.
    await grant('olga', monthly);
    expect(await grantsOf('olga')).toBe(2);
  });

  it('refuses the same key with another body (422 idempotency_key_reused), changing nothing', async () => {
    const key = randomUUID();
    await grant('pia', monthly, key);
    const before = await eventCount();
    expectProblem(await grant('pia', { ...monthly, durationDays: 7 }, key), 422, 'idempotency_key_reused');
    expect(await eventCount()).toBe(before);
    expect(await grantsOf('pia')).toBe(1);
  });

  it('keeps keys apart per customer and per API key', async () => {
    const key = randomUUID();
    const forQuinn = await grant('quinn', monthly, key);
    const forRay = await grant('ray', monthly, key);
    const byKim = await grant('quinn', monthly, key, otherAdmin);
    expect([forQuinn.status, forRay.status, byKim.status]).toEqual([201, 201, 201]);
    expect(new Set([forQuinn, forRay, byKim].map((a) => a.body!.grantId)).size).toBe(3);
    expect(await grantsOf('quinn')).toBe(2);
  });

  it('lets only one of concurrent requests with the same key run; the others get 409 or its answer', async () => {
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => grant('sue', monthly, key)));
    const granted = answers.filter((a) => a.status === 201);
    expect(new Set(granted.map((a) => a.body!.grantId)).size).toBe(1);
    for (const answer of answers.filter((a) => a.status !== 201)) {
      expectProblem(answer, 409, 'idempotency_key_in_use');
      expect(answer.headers.get('retry-after')).toBe('1');
    }
    expect(await grantsOf('sue')).toBe(1);
  });

  it('answers 409 idempotency_key_in_use while the first request runs', async () => {
    const key = randomUUID();
    await grant('tess', monthly, key);
    // As if the first request were still running (it has no answer yet).
    await harness.db.pool.query(`UPDATE idempotency_keys SET status = NULL, body = NULL WHERE key = $1`, [key]);
    expectProblem(await grant('tess', monthly, key), 409, 'idempotency_key_in_use');
    expect(await grantsOf('tess')).toBe(1);
  });

  it('runs again once the key has expired (24 hours), or its request was abandoned (5 minutes without an answer)', async () => {
    const key = randomUUID();
    await grant('uma', monthly, key);
    await harness.db.pool.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1`, [
      key,
    ]);
    expect((await grant('uma', monthly, key)).headers.get('idempotent-replayed')).toBeNull();
    expect(await grantsOf('uma')).toBe(2);
    await harness.db.pool.query(
      `UPDATE idempotency_keys SET status = NULL, created_at = now() - interval '6 minutes' WHERE key = $1`,
      [key],
    );
    expect((await grant('uma', monthly, key)).status).toBe(201);
    expect(await grantsOf('uma')).toBe(3);
  });

  it('keeps refusals too: a retry of a refused grant gets the same problem', async () => {
    const key = randomUUID();
    const refused = await grant('vic', { productId: 'gold', reason: 'x' }, key);
    expectProblem(refused, 422, 'unknown_product');
    const retry = await grant('vic', { productId: 'gold', reason: 'x' }, key);
    expectProblem(retry, 422, 'unknown_product');
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
  });

  it('ends a grant once, transfers once, replays once', async () => {
    const given = await grant('walt', { productId: 'premium_monthly', reason: 'for good' });
    const end = () =>
      call('DELETE', `/v1/admin/customers/walt/grants/${given.body!.grantId}?reason=mistake`, { key: 'end-1' });
    const [ended, endedAgain] = [await end(), await end()];
    expect([ended.status, endedAgain.status, endedAgain.body]).toEqual([204, 204, null]);
    expect(endedAgain.headers.get('idempotent-replayed')).toBe('true');
    const history = (await call('GET', '/v1/admin/customers/walt/history')).body!.entries as { type: string }[];
    expect(history.filter((e) => e.type === 'TransactionRevoked')).toHaveLength(1);

    await grant('xia', monthly);
    const transfer = () =>
      call('POST', '/v1/admin/customers/xia/transfer', { body: { to: 'yan', reason: 'merge' }, key: 'merge-1' });
    const moved = await transfer();
    expect(moved.body!.moved).toHaveLength(1);
    // Without the key, a second transfer would find nothing left to move.
    expect(await transfer()).toMatchObject({ status: 200, body: moved.body });

    const replay = () => call('POST', '/v1/admin/customers/yan/replay', { body: { dryRun: true }, key: 'replay-1' });
    const replayed = await replay();
    expect(replayed.status).toBe(200);
    expect((await replay()).headers.get('idempotent-replayed')).toBe('true');
  });

  it('refuses a key that is empty, too long or not printable ASCII (400 malformed_request), recording nothing', async () => {
    const before = await eventCount();
    for (const key of ['', 'k'.repeat(256), 'clé']) {
      const refused = await grant('zed', monthly, key);
      expectProblem(refused, 400, 'malformed_request');
      expect(refused.body!.detail).toContain('Idempotency-Key must be 1 to 255 printable ASCII characters');
    }
    expect((await grant('zed', monthly, 'k'.repeat(255))).status).toBe(201);
    expect(await eventCount()).toBeGreaterThan(before);
    expect(await grantsOf('zed')).toBe(1);
  });

  it('is in the OpenAPI document of each write, with its problems', async () => {
    const document = (await (await fetch(`${harness.subledger.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; responses: object }>>;
    };
    const writes = [
      ['/v1/admin/customers/{appUserId}/grants', 'post'],
      ['/v1/admin/customers/{appUserId}/grants/{grantId}', 'delete'],
      ['/v1/admin/customers/{appUserId}/transfer', 'post'],
      ['/v1/admin/customers/{appUserId}/replay', 'post'],
    ] as const;
    for (const [path, method] of writes) {
      const operation = document.paths[path]![method]!;
      expect(operation.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'idempotency-key' }));
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['400', '409', '422']));
    }
  });
});

describe('grants', () => {
  it('refuses durationDays together with endsAt (400 malformed_request), recording nothing', async () => {
    const before = await eventCount();
    const both = { ...monthly, endsAt: new Date(Date.now() + 86_400_000).toISOString() };
    const answer = await grant('abe', both);
    expectProblem(answer, 400, 'malformed_request');
    expect(answer.body!.detail).toContain('durationDays or endsAt, not both');
    expect(await eventCount()).toBe(before);
  });
});

describe('replay', () => {
  const stream = `purchase:app_store:production:2000000009`;

  beforeAll(async () => {
    await recordPurchase(
      harness.subledger.eventStore,
      appleKey('2000000009'),
      {
        type: 'RecordStoreFacts',
        data: {
          facts: [
            started(period('r1', 0, 30)),
            fact('PurchaseLinkedToAppUser', 0, { appUserId: 'bea', via: 'app_account_token' }),
          ],
        },
      },
      { causationId: 'bea-buys' },
    );
    await harness.processed();
  });

  it('takes no body, or an empty one, as the defaults (a real replay)', async () => {
    // fetch sends no content type without a body; an empty JSON body is the other way to say nothing.
    const none = await call('POST', '/v1/admin/customers/bea/replay');
    const empty = await call('POST', '/v1/admin/customers/bea/replay', {
      headers: { 'content-type': 'application/json' },
    });
    for (const answer of [none, empty]) {
      expect(answer).toMatchObject({ status: 200, body: { appUserId: 'bea', dryRun: false, streams: [stream] } });
    }
  });

  it('still refuses a body that is not JSON, or not its shape', async () => {
    const garbage = await fetch(`${harness.subledger.url}/v1/admin/customers/bea/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{',
    });
    expectProblem(
      { status: garbage.status, headers: garbage.headers, body: (await garbage.json()) as Record<string, unknown> },
      400,
      'malformed_request',
    );
    const notItsShape = await call('POST', '/v1/admin/customers/bea/replay', { body: { dryRun: 'yes' } });
    expectProblem(notItsShape, 400, 'malformed_request');
  });
});
