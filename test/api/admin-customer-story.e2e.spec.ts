import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { documentIdOf } from '../../src/eventstore/source-documents.ts';
import { systemClock } from '../../src/runtime/system-clock.ts';
import { WebhookEndpoints } from '../../src/webhooks/webhook-endpoints.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { MINUTE, sandboxStory } from '../support/sandbox-story.ts';

/*
 * What support staff read about one customer besides the timeline's effects: what caused
 * each fact, their purchases with transactions, prices and owners, the store's documents
 * decoded, and the webhook deliveries about them. Real notifications, real HTTP.
 */
let harness: AppleHarness;
let admin: string;
let appServer: string;
let endpointId: string;
const START = Date.now() - 12 * MINUTE;

beforeAll(async () => {
  harness = await startAppleHarness();
  const keys = new ApiKeys(harness.db.pool);
  admin = (await keys.create('support: sam', 'admin')).secret;
  appServer = (await keys.create('backend', 'app-server')).secret;
  const endpoints = new WebhookEndpoints(harness.db.pool, systemClock, { allowPrivate: true });
  endpointId = (await endpoints.create({ url: 'http://127.0.0.1:9/hooks', description: 'the CRM' })).endpoint.id;
  await sandboxStory(harness, 'nora', '7000000001', START);
});
afterAll(() => harness?.stop());

async function call(method: string, path: string, body?: unknown, key = admin) {
  const response = await fetch(`${harness.subledger.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), body: text ? JSON.parse(text) : null };
}

interface Entry {
  type: string;
  effects: unknown[];
  cause: { id: string; kind: string; type: string | null; subtype: string | null; summary: string; documentId: string };
}
const historyOf = async (appUserId: string) =>
  (await call('GET', `/v1/admin/customers/${appUserId}/history?limit=500`)).body.entries as Entry[];

describe('the history names each fact’s cause', () => {
  it('gives every fact of one notification the same cause: its type and subtype, and its document', async () => {
    const entries = await historyOf('nora');
    const causes = [...new Map(entries.map((e) => [e.cause.id, e.cause])).values()];
    expect(causes.map((c) => c.summary)).toEqual([
      'App Store SUBSCRIBED/INITIAL_BUY',
      'App Store DID_RENEW',
      'App Store DID_FAIL_TO_RENEW/GRACE_PERIOD',
    ]);
    expect(causes.map((c) => [c.kind, c.type, c.subtype])).toEqual([
      ['store_notification', 'SUBSCRIBED', 'INITIAL_BUY'],
      ['store_notification', 'DID_RENEW', null],
      ['store_notification', 'DID_FAIL_TO_RENEW', 'GRACE_PERIOD'],
    ]);
    // The renewal repeats the link, auto-renew and the product: one fact changed access.
    const renewal = entries.filter((e) => e.cause.id === causes[1]!.id);
    expect(renewal.length).toBeGreaterThan(1);
    expect(renewal.filter((e) => e.effects.length).map((e) => e.type)).toEqual(['SubscriptionRenewed']);
  });

  it('names support staff’s action, who did it and why', async () => {
    const grant = await call('POST', '/v1/admin/customers/nora/grants', {
      productId: 'premium_monthly',
      durationDays: 3,
      reason: 'sorry for the outage',
    });
    expect(grant.status).toBe(201);
    const cause = (await historyOf('nora')).at(-1)!.cause;
    expect(cause).toMatchObject({ kind: 'staff', action: 'grant', documentId: null });
    expect(cause.summary).toMatch(/^Grant by support: sam \(.+\): sorry for the outage$/);
    const ended = await call('DELETE', `/v1/admin/customers/nora/grants/${grant.body.grantId}?reason=given%20twice`);
    expect(ended.status).toBe(204);
    expect((await historyOf('nora')).at(-1)!.cause).toMatchObject({ kind: 'staff', action: 'end-grant' });
  });
});

describe('GET /v1/admin/documents/{documentId}', () => {
  it('answers the notification exactly as received, and decoded with what is signed inside it', async () => {
    const [first] = await historyOf('nora');
    const answer = await call('GET', `/v1/admin/documents/${first!.cause.documentId}`);
    expect(answer.status).toBe(200);
    const document = answer.body;
    expect(document.kind).toBe('apple.notification.v2');
    expect(documentIdOf(document.body)).toBe(first!.cause.documentId); // verbatim: the same bytes, the same id
    expect(document.notification).toEqual({ store: 'app_store', type: 'SUBSCRIBED', subtype: 'INITIAL_BUY' });
    expect(document.decoded.header.alg).toBe('ES256');
    expect(document.decoded.payload.notificationType).toBe('SUBSCRIBED');
    const transaction = document.decoded.payload.data.signedTransactionInfo;
    expect(transaction.header.alg).toBe('ES256');
    expect(transaction.payload).toMatchObject({ transactionId: '7000000001-1', price: 9990, currency: 'USD' });
    expect(document.decoded.payload.data.signedRenewalInfo.payload.autoRenewStatus).toBe(1);
  });

  it.each([
    ['an id that is not sha256:<hex>', 'sha256:xyz', 400, 'malformed_request'],
    ['no such document', `sha256:${'0'.repeat(64)}`, 404, 'unknown_document'],
  ])('refuses %s with a problem document', async (_, id, status, code) => {
    const answer = await call('GET', `/v1/admin/documents/${id}`);
    expect(answer.status).toBe(status);
    expect(answer.type).toContain('application/problem+json');
    expect(answer.body.code).toBe(code);
  });

  it('is for admins only', async () => {
    const id = `sha256:${'0'.repeat(64)}`;
    expect((await call('GET', `/v1/admin/documents/${id}`, undefined, 'sl_not_a_key')).status).toBe(401);
    expect((await call('GET', `/v1/admin/documents/${id}`, undefined, appServer)).body.code).toBe('forbidden');
  });
});

describe('GET /v1/admin/customers/{appUserId}/purchases', () => {
  it('lists each purchase with its transactions, prices, environment and owners', async () => {
    const answer = await call('GET', '/v1/admin/customers/nora/purchases');
    expect(answer.status).toBe(200);
    const apple = answer.body.purchases.find((p: { store: string }) => p.store === 'app_store');
    expect(apple).toMatchObject({ environment: 'sandbox', purchaseId: '7000000001', productId: 'premium_monthly' });
    expect(apple.owner).toBe('nora');
    expect(apple.transactions).toEqual([
      expect.objectContaining({
        transactionId: '7000000001-1',
        purchasedAt: new Date(START).toISOString(),
        expiresAt: new Date(START + 5 * MINUTE).toISOString(),
        price: { amount: '9.99', currency: 'USD' },
        revoked: null,
      }),
      expect.objectContaining({ transactionId: '7000000001-2', price: { amount: '9.99', currency: 'USD' } }),
    ]);
    // Every notification says the account token again: one owner change, not three.
    expect(apple.owners).toEqual([
      {
        at: new Date(START).toISOString(),
        appUserId: 'nora',
        via: 'app_account_token',
        previousAppUserId: null,
        by: null,
        reason: null,
      },
    ]);
  });

  it('keeps a purchase moved away, with who moved it to whom and why', async () => {
    const moved = await call('POST', '/v1/admin/customers/nora/transfer', { to: 'nora-new', reason: 'account merge' });
    expect(moved.status).toBe(200);
    for (const customer of ['nora', 'nora-new']) {
      const { purchases } = (await call('GET', `/v1/admin/customers/${customer}/purchases`)).body;
      const apple = purchases.find((p: { store: string }) => p.store === 'app_store');
      expect(apple.owner).toBe('nora-new');
      expect(apple.owners.at(-1)).toMatchObject({
        appUserId: 'nora-new',
        via: 'support_transfer',
        previousAppUserId: 'nora',
        by: expect.stringMatching(/^support: sam/),
        reason: 'account merge',
      });
    }
  });

  it('answers an unknown customer with no purchases, and a bad id with a problem', async () => {
    expect((await call('GET', '/v1/admin/customers/nobody/purchases')).body).toEqual({
      appUserId: 'nobody',
      purchases: [],
    });
    const refused = await call('GET', `/v1/admin/customers/${'x'.repeat(300)}/purchases`);
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('malformed_request');
    expect((await call('GET', '/v1/admin/customers/nora/purchases', undefined, appServer)).status).toBe(403);
  });
});

describe('GET /v1/admin/customers/{appUserId}/webhook-deliveries', () => {
  it('lists the deliveries about the customer to every endpoint, newest first, and no one else’s', async () => {
    await expect
      .poll(async () => (await call('GET', '/v1/admin/customers/nora/webhook-deliveries')).body.deliveries.length)
      .toBeGreaterThan(0);
    const { deliveries } = (await call('GET', '/v1/admin/customers/nora/webhook-deliveries?limit=500')).body;
    expect(new Set(deliveries.map((d: { appUserId: string }) => d.appUserId))).toEqual(new Set(['nora']));
    expect(deliveries.every((d: { endpointId: string }) => d.endpointId === endpointId)).toBe(true);
    const ids = deliveries.map((d: { id: string }) => Number(d.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect((await call('GET', '/v1/admin/customers/nobody/webhook-deliveries')).body).toEqual({ deliveries: [] });
  });

  it('refuses a limit outside 1 to 500', async () => {
    const answer = await call('GET', '/v1/admin/customers/nora/webhook-deliveries?limit=0');
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe('malformed_request');
  });
});
