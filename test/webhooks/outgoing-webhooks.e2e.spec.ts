import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { customerEventsProjection } from '../../src/projections/customer-events/customer-events-projection.ts';
import { resetProjection } from '../../src/projections/rebuild.ts';
import type { NotificationSpec } from '../../src/dev/apple/test-notifications.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { eventually } from '../support/eventually.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

/*
 * Issue 14: outgoing webhooks, end to end. App Store notifications go in; a receiver of
 * the app's backend, over real HTTP, verifies every delivery with the `standardwebhooks`
 * library and hears what happened to each customer, in order, at least once, through
 * failures, throttling and timeouts. The service's clock is moved instead of waiting out
 * back-offs.
 */
const T0 = Math.floor(Date.now() / 1000) * 1000;
const DAY = 86_400_000;

let ahead = 0;
const clock = { now: () => new Date(Date.now() + ahead) };

let harness: AppleHarness;
let receiver: WebhookReceiver;
let admin: string;
beforeAll(async () => {
  harness = await startAppleHarness(
    { WEBHOOK_ALLOW_PRIVATE_URLS: 'on', WEBHOOK_POLL_MS: '20', WEBHOOK_TIMEOUT_SECONDS: '0.5' },
    { clock },
  );
  admin = (await new ApiKeys(harness.db.pool).create('ops', 'admin')).secret;
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await harness?.stop();
  await receiver?.close();
});
beforeEach(async () => {
  ahead = 0;
  receiver.behave(undefined);
  receiver.received.length = 0;
  await harness.db.pool.query('DELETE FROM webhook_deliveries; DELETE FROM webhook_endpoints');
});

async function adminCall(method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown) {
  const response = await harness.subledger.api.inject({
    method,
    url,
    headers: { authorization: `Bearer ${admin}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { payload: JSON.stringify(body) }),
  });
  return { status: response.statusCode, body: response.json() as Record<string, any> };
}

async function addEndpoint(fields: Record<string, unknown> = {}) {
  const created = await adminCall('POST', '/v1/admin/webhooks/endpoints', { url: receiver.url, ...fields });
  expect(created.status).toBe(201);
  receiver.trust(created.body.secret);
  return created.body as { endpoint: { id: string }; secret: string };
}

/** A first purchase by `user`, on a purchase of its own. */
const buy = (user: string, purchaseId: string, signedDate = T0): NotificationSpec => ({
  type: 'SUBSCRIBED',
  subtype: 'INITIAL_BUY',
  signedDate,
  uuid: randomUUID(),
  transaction: {
    appAccountToken: user,
    originalTransactionId: purchaseId,
    transactionId: purchaseId,
    price: 9990, // milliunits
    currency: 'EUR',
  },
});
const turnOffAutoRenew = (user: string, purchaseId: string, signedDate: number): NotificationSpec => ({
  type: 'DID_CHANGE_RENEWAL_STATUS',
  subtype: 'AUTO_RENEW_DISABLED',
  signedDate,
  uuid: randomUUID(),
  // The same first period: only auto-renew changed.
  transaction: {
    appAccountToken: user,
    originalTransactionId: purchaseId,
    transactionId: purchaseId,
    purchaseDate: T0,
    originalPurchaseDate: T0,
    expiresDate: T0 + 30 * DAY,
  },
  renewalInfo: { autoRenewStatus: 0, originalTransactionId: purchaseId },
});

const heardBy = (user: string) => receiver.received.filter((r) => r.appUserId === user).map((r) => r.type);
const until = (check: () => boolean, timeoutMs = 10_000) =>
  eventually(
    async () => check(),
    (done) => done,
    timeoutMs,
  );

describe('outgoing webhooks', () => {
  it('tell the backend of a purchase, signed, with the entitlements before and after', async () => {
    await addEndpoint();
    const user = randomUUID();
    await harness.notify(buy(user, '3000000000000001'));
    await harness.processed();
    await until(() => heardBy(user).length >= 2);
    expect(heardBy(user)).toEqual(['INITIAL_PURCHASE', 'ENTITLEMENTS_CHANGED']);
    const [purchase, change] = receiver.received.filter((r) => r.appUserId === user);
    expect(purchase!.data).toMatchObject({
      purchase: { store: 'app_store', environment: 'sandbox', purchaseId: '3000000000000001' },
      productId: 'premium_monthly',
      period: { startsAt: new Date(T0).toISOString() },
      price: { amount: '9.99', currency: 'EUR' },
    });
    expect(purchase!.data.source).toEqual(expect.any(String)); // the signed notification, in the archive
    expect(change!.data.entitlements).toMatchObject({ before: [], after: [{ id: 'premium', active: true }] });
  });

  it('count a customer’s other purchases, told earlier, in the entitlements before and after', async () => {
    await addEndpoint();
    const user = randomUUID();
    await harness.notify(buy(user, '3000000000000011'));
    await harness.processed();
    await until(() => heardBy(user).length >= 2);
    // Later, on a purchase of its own: premium they already had, coaching new.
    const bought = buy(user, '3000000000000012', T0 + 1_000);
    const coaching = {
      ...bought,
      transaction: { ...bought.transaction, productId: 'com.example.pulse.coaching.monthly' },
    };
    await harness.notify(coaching);
    await harness.processed();
    await until(() => heardBy(user).length >= 4);
    expect(heardBy(user)).toEqual([
      'INITIAL_PURCHASE',
      'ENTITLEMENTS_CHANGED',
      'INITIAL_PURCHASE',
      'ENTITLEMENTS_CHANGED',
    ]);
    const change = receiver.received.filter((r) => r.appUserId === user)[3]!;
    expect(change.data.entitlements).toMatchObject({
      before: [{ id: 'premium', active: true }],
      after: [
        { id: 'coaching', active: true },
        { id: 'premium', active: true },
      ],
    });
  });

  it('send nothing again for a duplicated notification', async () => {
    await addEndpoint();
    const user = randomUUID();
    const once = buy(user, '3000000000000002');
    await harness.notify(once);
    await harness.notify({ ...once, uuid: randomUUID() }); // the same facts, another notification
    await harness.processed();
    await until(() => heardBy(user).length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heardBy(user)).toEqual(['INITIAL_PURCHASE', 'ENTITLEMENTS_CHANGED']);
  });

  it('retry a failing receiver, honour Retry-After, and keep each customer’s order', async () => {
    const { endpoint } = await addEndpoint();
    const user = randomUUID();
    let calls = 0;
    // Down, then throttling for 120 s, then up.
    receiver.behave((_, response) => {
      calls++;
      if (calls === 1) response.writeHead(503).end();
      else if (calls === 2) response.writeHead(429, { 'retry-after': '120' }).end();
      else return undefined;
      return 'answered';
    });
    await harness.notify(buy(user, '3000000000000003'));
    await harness.notify(turnOffAutoRenew(user, '3000000000000003', T0 + DAY));
    await harness.processed();
    await until(() => calls >= 2);
    const deliveries = async () =>
      (await adminCall('GET', `/v1/admin/webhooks/endpoints/${endpoint.id}/deliveries`)).body.deliveries as {
        eventType: string;
        status: string;
        attempts: number;
        lastStatus: number | null;
        nextAttemptAt: string | null;
      }[];
    // Recorded just after the receiver answered.
    const head = (await eventually(deliveries, (all) => all.at(-1)?.attempts === 2)).at(-1)!;
    expect(head).toMatchObject({ eventType: 'INITIAL_PURCHASE', status: 'pending', attempts: 2, lastStatus: 429 });
    expect(Date.parse(head.nextAttemptAt!) - clock.now().getTime()).toBeGreaterThan(100_000);
    // Nothing of this customer's overtakes the one waiting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heardBy(user)).toEqual([]);

    // The operator sees the wait: the endpoint's oldest undelivered event, and the attempts so far.
    const metrics = async () => (await harness.subledger.api.inject({ method: 'GET', url: '/metrics' })).body;
    const waiting = new RegExp(`subledger_webhook_oldest_undelivered_seconds\\{endpoint="${endpoint.id}"\\} ([\\d.]+)`);
    expect(Number(waiting.exec(await metrics())?.[1])).toBeGreaterThanOrEqual(0);
    expect(await metrics()).toContain(
      `subledger_webhook_attempt_duration_seconds_count{endpoint="${endpoint.id}",outcome="retrying"} 2`,
    );

    ahead = 121_000; // past Retry-After
    await until(() => heardBy(user).length >= 4);
    // Recorded just after the receiver answered.
    expect(waiting.exec(await eventually(metrics, (text) => !waiting.test(text)))).toBeNull();
    expect(await metrics()).toContain(
      `subledger_webhook_attempt_duration_seconds_count{endpoint="${endpoint.id}",outcome="delivered"} 4`,
    );
    expect(heardBy(user)).toEqual(['INITIAL_PURCHASE', 'ENTITLEMENTS_CHANGED', 'CANCELLATION', 'ENTITLEMENTS_CHANGED']);
    const settled = await eventually(deliveries, (all) => all.every((d) => d.status === 'delivered'));
    expect(settled.every((d) => d.status === 'delivered')).toBe(true);
  });

  it('time out a receiver that does not answer, and try again', async () => {
    const { endpoint } = await addEndpoint();
    const user = randomUUID();
    let stalled = 0;
    receiver.behave(() => (stalled++ === 0 ? 'answered' : undefined)); // the first request never gets an answer
    await harness.notify(buy(user, '3000000000000004'));
    await harness.processed();
    const first = async () =>
      (
        (await adminCall('GET', `/v1/admin/webhooks/endpoints/${endpoint.id}/deliveries`)).body.deliveries as {
          lastError: string | null;
        }[]
      ).at(-1);
    await eventually(first, (d) => d?.lastError === 'timed out');
    ahead = 60_000;
    await until(() => heardBy(user).length >= 2);
    expect(heardBy(user)).toEqual(['INITIAL_PURCHASE', 'ENTITLEMENTS_CHANGED']);
  });

  it('sign with both secrets while one is rotated out', async () => {
    const { endpoint, secret: old } = await addEndpoint();
    const rotated = await adminCall('POST', `/v1/admin/webhooks/endpoints/${endpoint.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    receiver.trust(old, rotated.body.secret);
    expect((await adminCall('POST', `/v1/admin/webhooks/endpoints/${endpoint.id}/test`)).status).toBe(202);
    await until(() => receiver.received.some((r) => r.type === 'TEST'));
    expect(receiver.received.find((r) => r.type === 'TEST')!.verifiedBy).toEqual([0, 1]);
  });

  it('send only the types and environments an endpoint asks for', async () => {
    await addEndpoint({ eventTypes: ['ENTITLEMENTS_CHANGED'], environments: ['sandbox'] });
    const user = randomUUID();
    await harness.notify(buy(user, '3000000000000005'));
    await harness.processed();
    await until(() => heardBy(user).length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heardBy(user)).toEqual(['ENTITLEMENTS_CHANGED']);
  });

  it('replay one customer’s events, with a dry run first, under the same webhook ids', async () => {
    const { endpoint } = await addEndpoint();
    const user = randomUUID();
    await harness.notify(buy(user, '3000000000000006'));
    await harness.processed();
    await until(() => heardBy(user).length >= 2);
    const firstIds = receiver.received.filter((r) => r.appUserId === user).map((r) => r.id);

    const replay = (body: Record<string, unknown>) =>
      adminCall('POST', `/v1/admin/webhooks/endpoints/${endpoint.id}/replay`, body);
    const dryRun = await replay({ appUserId: user, dryRun: true });
    expect(dryRun).toMatchObject({ status: 200, body: { dryRun: true, count: 2 } });
    expect(dryRun.body.events.map((e: { type: string }) => e.type)).toEqual([
      'INITIAL_PURCHASE',
      'ENTITLEMENTS_CHANGED',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(heardBy(user)).toHaveLength(2); // a dry run sends nothing

    expect((await replay({ appUserId: user })).body).toMatchObject({ dryRun: false, count: 2 });
    await until(() => heardBy(user).length >= 4);
    const ids = receiver.received.filter((r) => r.appUserId === user).map((r) => r.id);
    expect(ids).toEqual([...firstIds, ...firstIds]);
    expect(await replay({})).toMatchObject({ status: 422, body: { code: 'invalid_replay' } });
  });

  it('give up after the retry horizon, and retry a dead delivery by hand', async () => {
    const { endpoint } = await addEndpoint();
    receiver.behave((_, response) => {
      response.writeHead(500).end();
      return 'answered';
    });
    await adminCall('POST', `/v1/admin/webhooks/endpoints/${endpoint.id}/test`);
    const latest = async () =>
      (
        (await adminCall('GET', `/v1/admin/webhooks/endpoints/${endpoint.id}/deliveries`)).body.deliveries as {
          id: string;
          status: string;
          attempts: number;
        }[]
      )[0]!;
    await eventually(latest, (d) => d.attempts >= 1);
    ahead = 25 * 3_600_000; // past the day the service keeps trying
    const dead = await eventually(latest, (d) => d.status === 'dead');
    expect(dead.status).toBe('dead');

    receiver.behave(undefined);
    ahead = 0; // signatures carry the service's time: the receiver allows 5 minutes of skew
    const retried = await adminCall('POST', `/v1/admin/webhooks/deliveries/${dead.id}/retry`);
    expect(retried).toMatchObject({ status: 202, body: { status: 'pending' } });
    expect((await eventually(latest, (d) => d.status === 'delivered')).status).toBe('delivered');
    expect((await adminCall('POST', `/v1/admin/webhooks/deliveries/${dead.id}/retry`)).status).toBe(404);
  });

  it('schedule nothing again when the customer-events projection is rebuilt from the first event', async () => {
    const { endpoint } = await addEndpoint();
    const user = randomUUID();
    await harness.notify(buy(user, '3000000000000007'));
    await harness.processed();
    await until(() => heardBy(user).length >= 2);
    const count = async () =>
      (
        await harness.db.pool.query('SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1', [
          endpoint.id,
        ])
      ).rows[0].n as number;
    const before = await count();

    await harness.subledger.customerEvents.stop();
    await resetProjection(harness.db.pool, customerEventsProjection({ catalog: harness.subledger.catalog }));
    await harness.subledger.customerEvents.start();
    const head = await harness.subledger.eventStore.headPosition();
    expect(await harness.subledger.customerEvents.waitFor(head, 10_000)).toBe(true);
    expect(await count()).toBe(before);
  });

  it('tell the same events when rebuilt, a customer’s purchases folded in one batch, as when told one by one', async () => {
    await addEndpoint();
    const user = randomUUID();
    await harness.notify(buy(user, '3000000000000021'));
    await harness.processed();
    await until(() => heardBy(user).length >= 2);
    // Signed at the same moment: a later fact of the batch would count for the first's entitlements.
    const bought = buy(user, '3000000000000022');
    await harness.notify({
      ...bought,
      transaction: { ...bought.transaction, productId: 'com.example.pulse.coaching.monthly' },
    });
    await harness.processed();
    await until(() => heardBy(user).length >= 4);
    const told = async () =>
      (
        await harness.db.pool.query('SELECT id, payload FROM customer_events WHERE app_user_id = $1 ORDER BY id', [
          user,
        ])
      ).rows;
    const toldOneByOne = await told();
    expect(toldOneByOne).toHaveLength(4);

    // A rebuild reads the ledger in large batches: both purchases are folded in one, each
    // fact's entitlements still counting the other purchase only as it stood at that fact.
    await harness.subledger.customerEvents.stop();
    await harness.db.pool.query('DELETE FROM webhook_deliveries WHERE app_user_id = $1', [user]);
    await harness.db.pool.query('DELETE FROM customer_events WHERE app_user_id = $1', [user]);
    await resetProjection(harness.db.pool, customerEventsProjection({ catalog: harness.subledger.catalog }));
    await harness.subledger.customerEvents.start();
    const head = await harness.subledger.eventStore.headPosition();
    expect(await harness.subledger.customerEvents.waitFor(head, 10_000)).toBe(true);
    expect(await told()).toEqual(toldOneByOne);
  });

  it('refuse an endpoint with an unknown event type, or a URL that is not http(s)', async () => {
    const unknownType = await adminCall('POST', '/v1/admin/webhooks/endpoints', {
      url: receiver.url,
      eventTypes: ['NOT_A_TYPE'],
    });
    expect(unknownType.status).toBe(400);
    const badUrl = await adminCall('POST', '/v1/admin/webhooks/endpoints', { url: 'ftp://example.com/hook' });
    expect(badUrl).toMatchObject({ status: 422, body: { code: 'invalid_endpoint_url' } });
    expect((await adminCall('GET', '/v1/admin/webhooks/endpoints')).body.endpoints).toEqual([]);
  });
});
