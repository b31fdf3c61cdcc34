import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import type { PurchaseEvent } from '../../src/domain/purchase/events.ts';
import { recordPurchase } from '../../src/ingest/record-purchase.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { appleKey, day, fact, period, readable, renewed, started } from '../support/purchase-facts.ts';
import { corruptAccessUntil } from '../support/read-model.ts';

/*
 * What support staff ask about a customer, over HTTP, answered from the event store: a
 * subscription bought, renewed, in billing grace, recovered and refunded (recorded as
 * store facts at their store times), then the customer's history and entitlements at
 * moments inside each phase.
 */
let harness: AppleHarness;
let admin: string;
let appServer: string;
const CUSTOMER = 'dora';
const key = appleKey('2000000001');

beforeAll(async () => {
  harness = await startAppleHarness();
  const keys = new ApiKeys(harness.db.pool);
  admin = (await keys.create('support: sam', 'admin')).secret;
  appServer = (await keys.create('backend', 'app-server')).secret;
  const record = (causationId: string, facts: PurchaseEvent[]) =>
    recordPurchase(harness.subledger.eventStore, key, { type: 'RecordStoreFacts', data: { facts } }, { causationId });
  await record('buy', [
    started(period('t1', 0, 30)),
    fact('PurchaseLinkedToAppUser', 0, { appUserId: CUSTOMER, via: 'app_account_token' }),
  ]);
  await record('renew', [renewed(period('t2', 30, 60))]);
  await record('grace', [fact('RenewalFailed', 60, { gracePeriodEndsAt: day(66) })]);
  await record('recover', [renewed(period('t3', 62, 92)), fact('BillingRecovered', 62, {})]);
  await record('refund', [fact('TransactionRefunded', 70, { transactionId: 't3', refundedAt: day(70) })]);
  await harness.processed();
});
afterAll(() => harness?.stop());

async function get(path: string, credential = admin) {
  const response = await fetch(`${harness.subledger.url}${path}`, {
    headers: { authorization: `Bearer ${credential}` },
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('GET /v1/admin/customers/{appUserId}/history', () => {
  it('shows every step, oldest first, with the change it made to the entitlements', async () => {
    const { status, body } = await get(`/v1/admin/customers/${CUSTOMER}/history`);
    expect(status).toBe(200);
    const steps = body.entries.map((e: { type: string; effects: { summary: string }[] }) => [
      e.type,
      e.effects.map((effect) => effect.summary),
    ]);
    expect(steps).toEqual([
      ['SubscriptionStarted', []], // not theirs yet: the link follows
      ['PurchaseLinkedToAppUser', [`premium active until ${readable(day(30))}`]],
      ['SubscriptionRenewed', [`premium active until ${readable(day(60))}`]],
      ['RenewalFailed', [`premium active until ${readable(day(66))}`]], // billing grace
      ['SubscriptionRenewed', [`premium active until ${readable(day(92))}`]],
      ['BillingRecovered', []],
      ['TransactionRefunded', [`premium ended (access until ${readable(day(70))})`]],
    ]);
    expect(body.entries[0]).toMatchObject({ purchase: key, causationId: 'buy', storeTime: day(0) });
  });

  it('keeps a purchase in the history of a former owner, after it moved to another account', async () => {
    const moved = appleKey('2000000003');
    const store = harness.subledger.eventStore;
    await recordPurchase(
      store,
      moved,
      { type: 'RecordStoreFacts', data: { facts: [started(period('m1', 0, 30))] } },
      {
        causationId: 'moved-buy',
      },
    );
    // Gus claims it; Hal restores it on his account later, and the app transfers on restore.
    for (const [appUserId, at] of [
      ['gus', day(1)],
      ['hal', day(5)],
    ] as const) {
      await recordPurchase(
        store,
        moved,
        { type: 'LinkToAppUser', data: { appUserId, via: 'app_submission', at, whenOwnedByAnother: 'transfer' } },
        { causationId: `claim-${appUserId}` },
      );
    }
    await harness.processed();
    const history = (await get('/v1/admin/customers/gus/history')).body.entries as {
      type: string;
      effects: unknown[];
    }[];
    expect(history.map((e) => e.type)).toEqual([
      'SubscriptionStarted',
      'PurchaseLinkedToAppUser',
      'PurchaseLinkedToAppUser',
    ]);
    expect(history[2]!.effects).toEqual([expect.objectContaining({ summary: 'premium no longer theirs' })]);
  });

  it('pages with a cursor, and filters by store and time', async () => {
    const first = await get(`/v1/admin/customers/${CUSTOMER}/history?limit=3`);
    expect(first.body.entries).toHaveLength(3);
    const rest = await get(`/v1/admin/customers/${CUSTOMER}/history?limit=10&cursor=${first.body.nextCursor}`);
    expect(rest.body.entries).toHaveLength(4);
    expect(rest.body.nextCursor).toBeNull();
    expect((await get(`/v1/admin/customers/${CUSTOMER}/history?store=play_store`)).body.entries).toEqual([]);
    const later = new Date(Date.now() + 60_000).toISOString();
    expect((await get(`/v1/admin/customers/${CUSTOMER}/history?from=${later}`)).body.entries).toEqual([]);
  });

  it('is for admins only', async () => {
    expect((await get(`/v1/admin/customers/${CUSTOMER}/history`, appServer)).body).toMatchObject({
      status: 403,
      code: 'forbidden',
    });
    expect((await get(`/v1/admin/customers/${CUSTOMER}/history`, 'sl_unknown')).status).toBe(401);
  });
});

describe('GET /v1/admin/customers/{appUserId}/entitlements?at=', () => {
  const at = async (time: string) => (await get(`/v1/admin/customers/${CUSTOMER}/entitlements?at=${time}`)).body;

  it('answers for a moment inside each phase, as known now', async () => {
    expect((await at(day(10))).asKnownNow.premium).toMatchObject({ active: true, expiresAt: day(30) });
    expect((await at(day(45))).asKnownNow.premium).toMatchObject({ active: true, expiresAt: day(60) });
    expect((await at(day(61))).asKnownNow.premium).toMatchObject({
      active: true,
      gracePeriodExpiresAt: day(66),
      billingIssueDetectedAt: day(60),
    });
    expect((await at(day(65))).asKnownNow.premium).toMatchObject({ active: true, expiresAt: day(92) });
    expect((await at(day(75))).asKnownNow.premium).toMatchObject({ active: false, revokedAt: day(70) });
  });

  it('tells what Subledger knew then from what it knows now about then', async () => {
    // Everything was recorded today: back then, Subledger knew nothing of it.
    const early = await at(day(10));
    expect(Object.keys(early.asKnownThen)).toEqual([]); // (toMatchObject would take any object for {})
    expect(early.asKnownNow.premium).toMatchObject({ active: true });
    // A refund recorded late, effective before the moment asked about.
    const moment = new Date().toISOString();
    await recordPurchase(
      harness.subledger.eventStore,
      appleKey('2000000002'),
      {
        type: 'RecordStoreFacts',
        data: {
          facts: [
            started({
              ...period('late-1', 0, 0),
              purchasedAt: day(0),
              expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
            }),
            fact('PurchaseLinkedToAppUser', 0, { appUserId: 'eve', via: 'app_account_token' }),
          ],
        },
      },
      { causationId: 'late-buy' },
    );
    await harness.processed();
    const known = new Date().toISOString();
    // `at` is to the millisecond, and what was recorded within it was known by then: the refund
    // goes in a later one (once, it was recorded in the same millisecond, and counted as known).
    while (Date.now() <= Date.parse(known)) await new Promise((resolve) => setImmediate(resolve));
    await recordPurchase(
      harness.subledger.eventStore,
      appleKey('2000000002'),
      {
        type: 'RecordStoreFacts',
        data: { facts: [fact('TransactionRefunded', 0, { transactionId: 'late-1', refundedAt: moment })] },
      },
      { causationId: 'late-refund' },
    );
    const answer = (await get(`/v1/admin/customers/eve/entitlements?at=${known}`)).body;
    expect(answer.asKnownThen.premium).toMatchObject({ active: true });
    expect(answer.asKnownNow.premium).toMatchObject({ active: false, revokedAt: moment });
  });

  it('refuses a time that is not RFC 3339', async () => {
    expect((await get(`/v1/admin/customers/${CUSTOMER}/entitlements?at=yesterday`)).body).toMatchObject({
      status: 400,
      code: 'malformed_request',
    });
  });
});

describe('POST /v1/admin/customers/{appUserId}/replay', () => {
  const replay = async (body: unknown) => {
    const response = await fetch(`${harness.subledger.url}/v1/admin/customers/${CUSTOMER}/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const stream = `purchase:app_store:production:${key.purchaseId}`;
  const accessUntil = async () =>
    (
      await harness.db.pool.query(`SELECT access_until FROM purchases WHERE stream_id = $1`, [stream])
    ).rows[0].access_until.toISOString();

  it('reports exactly a corrupted row in a dry run, changing nothing, then repairs it', async () => {
    // The read model goes wrong: the refunded subscription looks good until 2099.
    await corruptAccessUntil(harness.db.pool, stream);
    harness.subledger.customers.invalidate(CUSTOMER);
    expect((await get(`/v1/customers/${CUSTOMER}`, appServer)).body.entitlements.premium).toMatchObject({
      active: true,
    });

    const dry = await replay({ dryRun: true, reason: 'customer says premium should have ended' });
    expect(dry.status).toBe(200);
    expect(dry.body.changed).toEqual([
      {
        streamId: stream,
        columns: ['accessUntil', 'state'],
        before: expect.objectContaining({ accessFrom: day(62), accessUntil: '2099-01-01T00:00:00.000Z' }),
        after: expect.objectContaining({ accessFrom: day(62), accessUntil: day(70) }),
      },
    ]);
    expect(await accessUntil()).toBe('2099-01-01T00:00:00.000Z');

    const applied = await replay({});
    expect(applied.body).toMatchObject({ dryRun: false, changed: [expect.objectContaining({ streamId: stream })] });
    expect(await accessUntil()).toBe(day(70));
    expect((await get(`/v1/customers/${CUSTOMER}`, appServer)).body.entitlements.premium).toMatchObject({
      active: false,
    });
    expect((await replay({ dryRun: true })).body.changed).toEqual([]);
  });

  it('reports a row that names the wrong owner, though its state is right', async () => {
    await harness.db.pool.query(`UPDATE purchases SET app_user_id = 'mallory' WHERE stream_id = $1`, [stream]);
    expect((await replay({ dryRun: true })).body.changed).toEqual([
      {
        streamId: stream,
        columns: ['appUserId'],
        before: expect.objectContaining({ appUserId: 'mallory' }),
        after: expect.objectContaining({ appUserId: CUSTOMER }),
      },
    ]);
    await replay({});
    expect((await replay({ dryRun: true })).body.changed).toEqual([]);
  });
});

describe('promotional grants', () => {
  const call = async (method: string, path: string, body?: unknown, credential = admin) => {
    const response = await fetch(`${harness.subledger.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${credential}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as Record<string, any> };
  };
  const premiumOf = async (appUserId: string) =>
    (await get(`/v1/customers/${appUserId}`, appServer)).body.entitlements.premium;

  it('gives entitlements for a while, shows them like a store’s, with who and why, and ends them', async () => {
    const given = await call('POST', '/v1/admin/customers/ivy/grants', {
      productId: 'premium_monthly',
      durationDays: 30,
      reason: 'apology for the outage',
    });
    expect(given).toMatchObject({
      status: 201,
      body: { appUserId: 'ivy', productId: 'premium_monthly', entitlements: ['premium'] },
    });
    // The answer came once the read model showed the grant: no waiting here.
    expect(await premiumOf('ivy')).toMatchObject({
      active: true,
      store: 'promotional',
      purchaseId: given.body.grantId,
      expiresAt: given.body.endsAt,
      willRenew: false,
    });
    const history = (await get('/v1/admin/customers/ivy/history')).body.entries;
    expect(history[0]).toMatchObject({
      type: 'SubscriptionStarted',
      actor: { kind: 'staff', id: expect.stringContaining('support: sam'), reason: 'apology for the outage' },
    });

    const ended = await call(
      'DELETE',
      `/v1/admin/customers/ivy/grants/${given.body.grantId}?reason=granted+by+mistake`,
    );
    expect(ended.status).toBe(204);
    expect(await premiumOf('ivy')).toMatchObject({ active: false });
  });

  it('refuses an unknown product, a period already over, another customer’s grant, and non-admins', async () => {
    const refused = (answer: { status: number; body: Record<string, any> }) => ({
      status: answer.status,
      code: answer.body?.code,
    });
    expect(refused(await call('POST', '/v1/admin/customers/ivy/grants', { productId: 'gold', reason: 'x' }))).toEqual({
      status: 422,
      code: 'unknown_product',
    });
    const past = { productId: 'premium_monthly', endsAt: '2020-01-01T00:00:00Z', reason: 'x' };
    expect(refused(await call('POST', '/v1/admin/customers/ivy/grants', past))).toEqual({
      status: 422,
      code: 'invalid_period',
    });
    expect(refused(await call('POST', '/v1/admin/customers/ivy/grants', { productId: 'premium_monthly' }))).toEqual({
      status: 400,
      code: 'malformed_request',
    });
    const theirs = await call('POST', '/v1/admin/customers/jay/grants', { productId: 'premium_monthly', reason: 'x' });
    expect(refused(await call('DELETE', `/v1/admin/customers/ivy/grants/${theirs.body.grantId}?reason=x`))).toEqual({
      status: 404,
      code: 'unknown_grant',
    });
    expect(
      refused(
        await call('POST', '/v1/admin/customers/ivy/grants', { productId: 'premium_monthly', reason: 'x' }, appServer),
      ),
    ).toEqual({ status: 403, code: 'forbidden' });
  });
});

describe('transfers and reconciliation', () => {
  const post = async (path: string, body?: unknown, credential = admin) => {
    const response = await fetch(`${harness.subledger.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${credential}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };

  it('moves every purchase to another app user, with who and why in both histories', async () => {
    const bought = appleKey('2000000004');
    await recordPurchase(
      harness.subledger.eventStore,
      bought,
      {
        type: 'RecordStoreFacts',
        data: {
          facts: [
            started({
              ...period('x1', 0, 0),
              purchasedAt: day(0),
              expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
            }),
            fact('PurchaseLinkedToAppUser', 0, { appUserId: 'anonymous-lee', via: 'app_account_token' }),
          ],
        },
      },
      { causationId: 'lee-buys' },
    );
    await harness.processed();
    const moved = await post('/v1/admin/customers/anonymous-lee/transfer', { to: 'lee', reason: 'signed in' });
    expect(moved).toMatchObject({ status: 200, body: { from: 'anonymous-lee', to: 'lee', moved: [bought] } });
    expect((await get('/v1/customers/lee', appServer)).body.entitlements.premium).toMatchObject({ active: true });
    expect((await get('/v1/customers/anonymous-lee', appServer)).body.entitlements).toEqual({});
    const last = (await get('/v1/admin/customers/anonymous-lee/history')).body.entries.at(-1);
    expect(last).toMatchObject({
      type: 'PurchaseLinkedToAppUser',
      actor: { kind: 'staff', reason: 'signed in' },
      effects: [expect.objectContaining({ summary: 'premium no longer theirs' })],
    });
    expect(await post('/v1/admin/customers/lee/transfer', { to: 'lee', reason: 'x' })).toMatchObject({
      status: 422,
      body: { code: 'same_customer' },
    });
  });

  it('reports which stores it could not ask', async () => {
    const answer = await post(`/v1/admin/customers/${CUSTOMER}/reconcile`);
    expect(answer).toMatchObject({
      status: 200,
      body: {
        purchases: [
          { store: 'app_store', purchaseId: key.purchaseId, outcome: 'not asked: no App Store Server API key' },
        ],
      },
    });
  });
});
