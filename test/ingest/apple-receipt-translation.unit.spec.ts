import { describe, expect, it } from 'vitest';
import type { PendingRenewalInfo, ReceiptTransactionInfo } from '../../src/ingest/apple/verify-receipt.ts';
import { purchasesOf } from '../../src/ingest/apple/verify-receipt.ts';
import { translateAppleReceipt } from '../../src/ingest/apple/translate-receipt.ts';
import { foldPurchase } from '../../src/domain/purchase/state.ts';
import { finalStatus } from '../../src/domain/purchase/status.ts';
import { receiptResponse, receiptTransaction as tx } from '../support/fake-verify-receipt.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const MONTHLY = 'com.example.pulse.premium.monthly';
const YEARLY = 'com.example.pulse.premium.yearly';
const LIFETIME = 'com.example.pulse.premium.lifetime';
const REQUESTED_AT = T0 + 45 * DAY;

/** Translates a sandbox verifyReceipt response the way the verifier hands it over. */
async function translate(transactions: ReceiptTransactionInfo[], pendingRenewalInfo?: PendingRenewalInfo[]) {
  const response = receiptResponse({
    bundleId: 'com.example.pulse',
    environment: 'Sandbox',
    requestedAt: REQUESTED_AT,
    transactions,
    ...(pendingRenewalInfo && { pendingRenewalInfo }),
  });
  const purchases = await purchasesOf(response);
  return translateAppleReceipt({
    environment: 'sandbox',
    status: 0,
    bundleId: 'com.example.pulse',
    rawResponse: JSON.stringify(response),
    response,
    purchases,
  });
}
const renewal = (overrides: Partial<PendingRenewalInfo> = {}): PendingRenewalInfo => ({
  original_transaction_id: '1000000001',
  product_id: MONTHLY,
  auto_renew_product_id: MONTHLY,
  auto_renew_status: '1',
  ...overrides,
});
const monthly = (n: number, extra: Partial<ReceiptTransactionInfo> = {}) =>
  tx(`100000000${n + 1}`, '1000000001', MONTHLY, T0 + n * 30 * DAY, T0 + (n + 1) * 30 * DAY, extra);

describe('translating a validated receipt', () => {
  it('a subscription with renewals: one purchase, started then renewed, observed when Apple answered', async () => {
    const [purchase, ...others] = await translate([
      monthly(0, { is_trial_period: 'true' }),
      monthly(1),
      tx('1000000003', '1000000001', MONTHLY, T0 + 60 * DAY, T0 + 90 * DAY),
    ]);

    expect(others).toEqual([]);
    expect(purchase!.key).toEqual({ store: 'app_store', environment: 'sandbox', purchaseId: '1000000001' });
    expect(purchase!.facts).toEqual([
      {
        type: 'SubscriptionStarted',
        data: {
          transaction: {
            transactionId: '1000000001',
            productId: MONTHLY,
            purchasedAt: iso(T0),
            expiresAt: iso(T0 + 30 * DAY),
            periodType: 'trial',
            ownership: 'purchased',
            offer: { type: 'introductory' },
          },
          observedAt: iso(REQUESTED_AT),
        },
      },
      expect.objectContaining({ type: 'SubscriptionRenewed' }),
      expect.objectContaining({ type: 'SubscriptionRenewed' }),
    ]);
    const status = finalStatus(foldPurchase(purchase!.facts));
    expect(status.current?.transactionId).toBe('1000000003');
    expect(status.access).toEqual({ from: iso(T0 + 60 * DAY), until: iso(T0 + 90 * DAY) });
  });

  it('a refund: cancellation_date refunds that transaction and ends access then', async () => {
    const refundedAt = T0 + 35 * DAY;
    const [purchase] = await translate([
      monthly(0),
      monthly(1, { cancellation_date_ms: String(refundedAt), cancellation_reason: '0' }),
    ]);

    expect(purchase!.facts).toContainEqual({
      type: 'TransactionRefunded',
      data: { transactionId: '1000000002', refundedAt: iso(refundedAt), observedAt: iso(REQUESTED_AT) },
    });
    expect(finalStatus(foldPurchase(purchase!.facts)).access?.until).toBe(iso(refundedAt));
  });

  it('an upgraded period: its cancellation_date is a revocation by upgrade, not a refund', async () => {
    const upgradedAt = T0 + 10 * DAY;
    const [purchase] = await translate([
      monthly(0, { cancellation_date_ms: String(upgradedAt), is_upgraded: 'true' }),
      tx('1000000002', '1000000001', YEARLY, upgradedAt, upgradedAt + 365 * DAY),
    ]);
    expect(purchase!.facts.map((f) => f.type)).toEqual([
      'SubscriptionStarted',
      'TransactionRevoked',
      'SubscriptionRenewed',
    ]);
    expect(purchase!.facts[1]!.data).toMatchObject({ reason: 'upgraded', revokedAt: iso(upgradedAt) });
  });

  it('a non-consumable and a family-shared subscription: one purchase each', async () => {
    const translated = await translate([
      tx('3000000001', '3000000001', LIFETIME, T0),
      monthly(0, { in_app_ownership_type: 'FAMILY_SHARED' }),
    ]);

    expect(translated.map((p) => p.key.purchaseId)).toEqual(['1000000001', '3000000001']);
    expect(translated[1]!.facts).toEqual([
      {
        type: 'OneTimeProductPurchased',
        data: {
          transaction: {
            transactionId: '3000000001',
            productId: LIFETIME,
            purchasedAt: iso(T0),
            periodType: 'normal',
            ownership: 'purchased',
          },
          observedAt: iso(REQUESTED_AT),
        },
      },
    ]);
    expect(translated[0]!.facts[0]!.data).toMatchObject({ transaction: { ownership: 'family_shared' } });
  });

  it('pending renewal info: auto-renew off, billing retry in a grace period, a downgrade scheduled', async () => {
    const graceEnds = T0 + 46 * DAY;
    const [purchase] = await translate(
      [monthly(0)],
      [
        renewal({
          auto_renew_status: '0',
          auto_renew_product_id: YEARLY,
          is_in_billing_retry_period: '1',
          grace_period_expires_date_ms: String(graceEnds),
          expiration_intent: '2',
        }),
      ],
    );

    const observedAt = iso(REQUESTED_AT);
    expect(purchase!.facts.slice(1)).toEqual([
      { type: 'AutoRenewTurnedOff', data: { observedAt } },
      { type: 'ProductChangeScheduled', data: { toProductId: YEARLY, change: 'crossgrade', observedAt } },
      // Still retrying: not yet expired, whatever the intent says.
      { type: 'RenewalFailed', data: { gracePeriodEndsAt: iso(graceEnds), observedAt } },
    ]);
    const status = finalStatus(foldPurchase(purchase!.facts));
    expect([status.billing, status.willRenew, status.access?.until]).toEqual(['grace', false, iso(graceEnds)]);
  });

  it('pending renewal info: billing retry without grace, then expiry once Apple gives up', async () => {
    const [retrying] = await translate([monthly(0)], [renewal({ is_in_billing_retry_period: '1' })]);
    expect(retrying!.facts.slice(1).map((f) => [f.type, f.data])).toEqual([
      ['AutoRenewTurnedOn', { observedAt: iso(REQUESTED_AT) }],
      ['ProductChangeCancelled', { observedAt: iso(REQUESTED_AT) }],
      ['RenewalFailed', { observedAt: iso(REQUESTED_AT) }],
    ]);

    const [expired] = await translate(
      [monthly(0)],
      [renewal({ auto_renew_status: '0', is_in_billing_retry_period: '0', expiration_intent: '1' })],
    );
    expect(expired!.facts).toContainEqual({
      type: 'SubscriptionExpired',
      data: { reason: 'voluntary', observedAt: iso(REQUESTED_AT) },
    });
  });
});
