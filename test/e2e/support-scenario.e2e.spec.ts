import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { DAY, signNotification, type NotificationSpec } from '../../src/dev/apple/test-notifications.ts';
import type { AppleTestSigner } from '../../src/dev/apple/test-signer.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { readable } from '../support/purchase-facts.ts';

/*
 * The support scenario, scripted end to end over HTTP: a customer buys on the App Store,
 * renews, hits a billing issue with a grace period, recovers, is refunded, and is given
 * a promotional grant; Apple's notifications signed at the times they happened (by a
 * test certificate valid since then). Support then reads the history, asks what the
 * customer had inside each phase, and repairs a corrupted read-model row by replay.
 */
const CUSTOMER = '6a0b1c2d-0000-4000-8000-00000000cafe';
const T = Math.floor((Date.now() - 100 * DAY) / 1000) * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

let harness: AppleHarness;
let signer: AppleTestSigner;
let admin: string;

const period = (id: string, from: number, to: number, fields: Record<string, unknown> = {}) => ({
  transactionId: id,
  originalTransactionId: 'S1',
  purchaseDate: from,
  originalPurchaseDate: T,
  expiresDate: to,
  appAccountToken: CUSTOMER,
  ...fields,
});
const LIFE: readonly NotificationSpec[] = [
  { type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T, transaction: period('S1', T, T + 30 * DAY) },
  { type: 'DID_RENEW', signedDate: T + 30 * DAY, transaction: period('S2', T + 30 * DAY, T + 60 * DAY) },
  {
    type: 'DID_FAIL_TO_RENEW',
    subtype: 'GRACE_PERIOD',
    signedDate: T + 60 * DAY,
    transaction: period('S2', T + 30 * DAY, T + 60 * DAY),
    renewalInfo: { isInBillingRetryPeriod: true, gracePeriodExpiresDate: T + 66 * DAY },
  },
  {
    type: 'DID_RENEW',
    subtype: 'BILLING_RECOVERY',
    signedDate: T + 63 * DAY,
    transaction: period('S3', T + 63 * DAY, T + 93 * DAY),
  },
  {
    type: 'REFUND',
    signedDate: T + 80 * DAY,
    transaction: period('S3', T + 63 * DAY, T + 93 * DAY, { revocationDate: T + 80 * DAY, revocationReason: 0 }),
  },
];

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${harness.subledger.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

beforeAll(async () => {
  harness = await startAppleHarness();
  signer = await harness.ca.issueSigner({ notBefore: new Date(T - DAY) });
  admin = (await new ApiKeys(harness.db.pool).create('support: sam', 'admin')).secret;
  for (const spec of LIFE) {
    const answer = await harness.post('/v1/webhooks/apple', { signedPayload: await signNotification(signer, spec) });
    expect(answer.status).toBe(200);
    await harness.processed();
  }
  const grant = await call('POST', `/v1/admin/customers/${CUSTOMER}/grants`, {
    productId: 'premium_monthly',
    durationDays: 14,
    reason: 'sorry about the refund confusion',
  });
  expect(grant.status).toBe(201);
  await harness.processed();
});
afterAll(() => harness?.stop());

describe('a customer’s life, as support sees it', () => {
  it('shows each step in the history with its effect', async () => {
    const { body } = await call('GET', `/v1/admin/customers/${CUSTOMER}/history`);
    const effects = (body.entries as { type: string; effects: { summary: string }[] }[])
      .filter((e) => e.effects.length > 0)
      .map((e) => `${e.type}: ${e.effects.map((effect) => effect.summary).join('; ')}`);
    expect(effects).toEqual([
      `PurchaseLinkedToAppUser: premium active until ${readable(iso(T + 30 * DAY))}`,
      `SubscriptionRenewed: premium active until ${readable(iso(T + 60 * DAY))}`,
      `RenewalFailed: premium active until ${readable(iso(T + 66 * DAY))}`,
      `SubscriptionRenewed: premium active until ${readable(iso(T + 93 * DAY))}`,
      `TransactionRefunded: premium ended (access until ${readable(iso(T + 80 * DAY))})`,
      expect.stringMatching(/^PurchaseLinkedToAppUser: premium active until .*, will not renew$/),
    ]);
    const grantEntry = (body.entries as { actor: unknown; purchase: { store: string } }[]).at(-1)!;
    expect(grantEntry).toMatchObject({
      purchase: { store: 'promotional' },
      actor: { kind: 'staff', reason: 'sorry about the refund confusion' },
    });
  });

  it('answers what the customer had inside each phase', async () => {
    const premiumAt = async (ms: number) =>
      (await call('GET', `/v1/admin/customers/${CUSTOMER}/entitlements?at=${iso(ms)}`)).body.asKnownNow.premium;
    expect(await premiumAt(T + 10 * DAY)).toMatchObject({ active: true, expiresAt: iso(T + 30 * DAY) });
    expect(await premiumAt(T + 45 * DAY)).toMatchObject({ active: true, expiresAt: iso(T + 60 * DAY) });
    expect(await premiumAt(T + 62 * DAY)).toMatchObject({
      active: true,
      gracePeriodExpiresAt: iso(T + 66 * DAY),
      billingIssueDetectedAt: iso(T + 60 * DAY),
    });
    expect(await premiumAt(T + 70 * DAY)).toMatchObject({ active: true, expiresAt: iso(T + 93 * DAY) });
    expect(await premiumAt(T + 85 * DAY)).toMatchObject({ active: false, revokedAt: iso(T + 80 * DAY) });
    expect(await premiumAt(Date.now())).toMatchObject({ active: true, store: 'promotional' });
  });

  it('repairs a corrupted read-model row by replay, the dry run reporting exactly that difference', async () => {
    const stream = 'purchase:app_store:sandbox:S1';
    await harness.db.pool.query(`UPDATE purchases SET will_renew = true WHERE stream_id = $1`, [stream]);
    const dry = await call('POST', `/v1/admin/customers/${CUSTOMER}/replay`, { dryRun: true });
    expect(dry.body.changed).toEqual([
      {
        streamId: stream,
        columns: ['willRenew'],
        before: expect.objectContaining({ willRenew: true }),
        after: expect.objectContaining({ willRenew: false }),
      },
    ]);
    const { rows } = await harness.db.pool.query(`SELECT will_renew::text AS w FROM purchases WHERE stream_id = $1`, [
      stream,
    ]);
    expect(rows[0].w).toBe('true'); // a dry run changes nothing
    expect((await call('POST', `/v1/admin/customers/${CUSTOMER}/replay`, {})).body.changed).toHaveLength(1);
    expect((await call('POST', `/v1/admin/customers/${CUSTOMER}/replay`, { dryRun: true })).body.changed).toEqual([]);
  });
});
