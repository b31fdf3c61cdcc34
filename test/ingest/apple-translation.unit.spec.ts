import { describe, expect, it } from 'vitest';
import type {
  AppleRenewalInfo,
  AppleTransaction,
  VerifiedAppleNotification,
} from '../../src/ingest/apple/apple-payloads.ts';
import {
  translateAppleNotification,
  translateAppleTransaction,
  UnsupportedAppleEnvironment,
} from '../../src/ingest/apple/translate-notification.ts';
import { foldPurchase } from '../../src/domain/purchase/state.ts';
import { finalStatus } from '../../src/domain/purchase/status.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const MONTHLY = 'com.example.pulse.premium.monthly';
const YEARLY = 'com.example.pulse.premium.yearly';

function transaction(overrides: Partial<AppleTransaction> = {}): AppleTransaction {
  return {
    transactionId: '2000000001',
    originalTransactionId: '2000000001',
    bundleId: 'com.example.pulse',
    productId: MONTHLY,
    type: 'Auto-Renewable Subscription',
    purchaseDate: T0,
    expiresDate: T0 + 30 * DAY,
    signedDate: T0,
    environment: 'Sandbox',
    inAppOwnershipType: 'PURCHASED',
    ...overrides,
  };
}
function renewal(overrides: Partial<AppleRenewalInfo> = {}): AppleRenewalInfo {
  return {
    originalTransactionId: '2000000001',
    productId: MONTHLY,
    autoRenewProductId: MONTHLY,
    autoRenewStatus: 1,
    signedDate: T0,
    ...overrides,
  };
}
function notice(
  notificationType: string,
  subtype: string | undefined,
  parts: { transaction?: AppleTransaction; renewalInfo?: AppleRenewalInfo; signedDate?: number } = {},
): VerifiedAppleNotification {
  return {
    notification: {
      notificationType,
      ...(subtype && { subtype }),
      notificationUUID: `${notificationType}-${subtype}`,
      signedDate: parts.signedDate ?? T0 + DAY,
      data: { environment: 'Sandbox', bundleId: 'com.example.pulse' },
    },
    ...(parts.transaction && { transaction: parts.transaction }),
    ...(parts.renewalInfo && { renewalInfo: parts.renewalInfo }),
  };
}
const withPurchase = (
  notificationType: string,
  subtype?: string,
  t = transaction(),
  r: AppleRenewalInfo | undefined = renewal(),
) => notice(notificationType, subtype, { transaction: t, ...(r && { renewalInfo: r }) });

function factsOf(verified: VerifiedAppleNotification) {
  const translation = translateAppleNotification(verified);
  if (translation.kind !== 'purchase') throw new Error(`no purchase: ${translation.notice}`);
  return translation;
}
const typesOf = (verified: VerifiedAppleNotification) => factsOf(verified).facts.map((f) => f.type);
const statusAfter = (...notifications: VerifiedAppleNotification[]) =>
  finalStatus(foldPurchase(notifications.flatMap((n) => factsOf(n).facts)));

describe('Apple notification translation: every type and subtype has a defined effect', () => {
  it('SUBSCRIBED / INITIAL_BUY starts a subscription in its environment, with its trial', () => {
    const trial = transaction({ offerType: 1, offerDiscountType: 'FREE_TRIAL', appAccountToken: 'f3a1-user' });
    const t = factsOf(withPurchase('SUBSCRIBED', 'INITIAL_BUY', trial));
    expect(t.key).toEqual({ store: 'app_store', environment: 'sandbox', purchaseId: '2000000001' });
    expect(t.known).toBe(true);
    expect(t.facts.map((f) => f.type)).toEqual([
      'SubscriptionStarted',
      'PurchaseLinkedToAppUser',
      'AutoRenewTurnedOn',
      'ProductChangeCancelled',
    ]);
    expect(statusAfter(withPurchase('SUBSCRIBED', 'INITIAL_BUY', trial))).toMatchObject({
      periodType: 'trial',
      current: { offer: { type: 'introductory' } },
      owner: { appUserId: 'f3a1-user', via: 'app_account_token' },
      access: { from: iso(T0), until: iso(T0 + 30 * DAY) },
    });
  });

  it('SUBSCRIBED / RESUBSCRIBE adds a new period to the same subscription', () => {
    const again = transaction({ transactionId: '2000000009', purchaseDate: T0 + 60 * DAY, expiresDate: T0 + 90 * DAY });
    expect(typesOf(withPurchase('SUBSCRIBED', 'RESUBSCRIBE', again))).toContain('SubscriptionRenewed');
  });

  it('DID_RENEW extends access; BILLING_RECOVERY also clears the billing issue', () => {
    const next = transaction({ transactionId: '2000000002', purchaseDate: T0 + 30 * DAY, expiresDate: T0 + 60 * DAY });
    expect(typesOf(withPurchase('DID_RENEW', undefined, next))).toContain('SubscriptionRenewed');
    const failed = withPurchase(
      'DID_FAIL_TO_RENEW',
      undefined,
      transaction(),
      renewal({ isInBillingRetryPeriod: true }),
    );
    const recovered = notice('DID_RENEW', 'BILLING_RECOVERY', {
      transaction: next,
      renewalInfo: renewal(),
      signedDate: T0 + 33 * DAY,
    });
    expect(typesOf(recovered)).toContain('BillingRecovered');
    expect(statusAfter(failed, recovered)).toMatchObject({ billing: 'ok', access: { until: iso(T0 + 60 * DAY) } });
  });

  it('DID_FAIL_TO_RENEW starts billing retry; GRACE_PERIOD keeps access until the grace period ends', () => {
    const retry = withPurchase(
      'DID_FAIL_TO_RENEW',
      undefined,
      transaction(),
      renewal({ isInBillingRetryPeriod: true }),
    );
    expect(statusAfter(retry)).toMatchObject({ billing: 'retry' });
    const grace = withPurchase(
      'DID_FAIL_TO_RENEW',
      'GRACE_PERIOD',
      transaction(),
      renewal({ isInBillingRetryPeriod: true, gracePeriodExpiresDate: T0 + 36 * DAY }),
    );
    expect(statusAfter(grace)).toMatchObject({ billing: 'grace', access: { until: iso(T0 + 36 * DAY) } });
    expect(typesOf(grace).filter((t) => t === 'RenewalFailed')).toHaveLength(1);
  });

  it('GRACE_PERIOD_EXPIRED ends the grace period', () => {
    expect(typesOf(withPurchase('GRACE_PERIOD_EXPIRED'))).toContain('GracePeriodExpired');
  });

  it.each([
    ['VOLUNTARY', 'voluntary'],
    ['BILLING_RETRY', 'billing_error'],
    ['PRICE_INCREASE', 'price_increase_declined'],
    ['PRODUCT_NOT_FOR_SALE', 'product_unavailable'],
  ])('EXPIRED / %s expires with reason %s', (subtype, reason) => {
    const expired = withPurchase('EXPIRED', subtype, transaction(), renewal({ autoRenewStatus: 0 }));
    expect(statusAfter(expired)).toMatchObject({ willRenew: false, expiration: { reason } });
  });

  it('DID_CHANGE_RENEWAL_PREF / DOWNGRADE schedules the change; no subtype cancels it', () => {
    const downgrade = withPurchase(
      'DID_CHANGE_RENEWAL_PREF',
      'DOWNGRADE',
      transaction({ productId: YEARLY }),
      renewal({ productId: YEARLY, autoRenewProductId: MONTHLY }),
    );
    expect(statusAfter(downgrade).pendingProductChange).toEqual({ toProductId: MONTHLY, change: 'downgrade' });
    const cancel = notice('DID_CHANGE_RENEWAL_PREF', undefined, {
      transaction: transaction({ productId: YEARLY }),
      renewalInfo: renewal({ productId: YEARLY, autoRenewProductId: YEARLY }),
      signedDate: T0 + 2 * DAY,
    });
    expect(statusAfter(downgrade, cancel).pendingProductChange).toBeUndefined();
  });

  it('DID_CHANGE_RENEWAL_PREF / UPGRADE moves to the new product at once and ends the old period', () => {
    const oldPeriod = withPurchase('SUBSCRIBED', 'INITIAL_BUY');
    const upgraded = notice('DID_CHANGE_RENEWAL_PREF', 'UPGRADE', {
      transaction: transaction({
        transactionId: '2000000003',
        productId: YEARLY,
        purchaseDate: T0 + 10 * DAY,
        expiresDate: T0 + 375 * DAY,
      }),
      renewalInfo: renewal({ productId: YEARLY, autoRenewProductId: YEARLY }),
      signedDate: T0 + 10 * DAY,
    });
    expect(statusAfter(oldPeriod, upgraded)).toMatchObject({
      storeProductId: YEARLY,
      lastProductChange: { toProductId: YEARLY, change: 'upgrade' },
      access: { until: iso(T0 + 375 * DAY) },
    });
  });

  it.each([
    ['AUTO_RENEW_DISABLED', false],
    ['AUTO_RENEW_ENABLED', true],
  ] as const)('DID_CHANGE_RENEWAL_STATUS / %s sets will-renew to %s', (subtype, willRenew) => {
    const status = withPurchase(
      'DID_CHANGE_RENEWAL_STATUS',
      subtype,
      transaction(),
      renewal({ autoRenewStatus: willRenew ? 1 : 0 }),
    );
    expect(statusAfter(status).willRenew).toBe(willRenew);
  });

  it.each(['', 'INITIAL_BUY', 'RESUBSCRIBE', 'UPGRADE', 'DOWNGRADE'])(
    'OFFER_REDEEMED %s records the offer on the period',
    (subtype) => {
      const redeemed = withPurchase(
        'OFFER_REDEEMED',
        subtype || undefined,
        transaction({ offerType: 3, offerIdentifier: 'SPRING' }),
      );
      expect(factsOf(redeemed).known).toBe(true);
      expect(statusAfter(redeemed).current?.offer).toEqual({ type: 'offer_code', id: 'SPRING' });
    },
  );

  it('REFUND removes access from the refund time; REFUND_REVERSED gives it back', () => {
    const refunded = withPurchase(
      'REFUND',
      undefined,
      transaction({ revocationDate: T0 + 5 * DAY, revocationReason: 0 }),
    );
    expect(typesOf(refunded)).toContain('TransactionRefunded');
    expect(statusAfter(refunded)).toMatchObject({ revocation: { revokedAt: iso(T0 + 5 * DAY), reason: 'refund' } });
    const reversed = notice('REFUND_REVERSED', undefined, {
      transaction: transaction(),
      renewalInfo: renewal(),
      signedDate: T0 + 9 * DAY,
    });
    expect(statusAfter(refunded, reversed).access).toBeDefined();
  });

  it("takes an API answer without a revocation date as Apple's word that a refund was reversed", () => {
    const refunded = notice('REFUND', undefined, {
      transaction: transaction({ revocationDate: T0 + 5 * DAY, signedDate: T0 + 5 * DAY }),
      signedDate: T0 + 5 * DAY,
    });
    const refundFacts = factsOf(refunded).facts;
    // The REFUND_REVERSED notification was lost; the App Store Server API answers later.
    const answered = translateAppleTransaction({ transaction: transaction({ signedDate: T0 + 9 * DAY }) }).facts;
    expect(answered.map((f) => f.type)).toContain('RefundReversed');
    expect(finalStatus(foldPurchase([...refundFacts, ...answered])).revocation).toBeUndefined();
    // An answer signed before the refund, arriving late, does not undo it.
    const stale = translateAppleTransaction({ transaction: transaction({ signedDate: T0 + 2 * DAY }) }).facts;
    expect(finalStatus(foldPurchase([...refundFacts, ...stale])).revocation).toMatchObject({ reason: 'refund' });
  });

  it('REVOKE ends family-shared access', () => {
    const shared = transaction({ inAppOwnershipType: 'FAMILY_SHARED', revocationDate: T0 + 4 * DAY });
    expect(statusAfter(withPurchase('REVOKE', undefined, shared))).toMatchObject({
      ownership: 'family_shared',
      revocation: { reason: 'family_sharing_revoked' },
    });
  });

  it('RENEWAL_EXTENDED moves the expiry', () => {
    const extended = withPurchase('RENEWAL_EXTENDED', undefined, transaction({ expiresDate: T0 + 37 * DAY }));
    expect(typesOf(extended)).toContain('RenewalExtended');
    expect(statusAfter(extended).access?.until).toBe(iso(T0 + 37 * DAY));
  });

  it('ONE_TIME_CHARGE records a one-time purchase', () => {
    const lifetime = transaction({
      type: 'Non-Consumable',
      productId: 'com.example.pulse.premium.lifetime',
      expiresDate: undefined,
    });
    const charge = notice('ONE_TIME_CHARGE', undefined, { transaction: lifetime });
    expect(typesOf(charge)).toEqual(['OneTimeProductPurchased']);
    expect(statusAfter(charge)).toMatchObject({ kind: 'one_time', access: { until: null } });
  });

  it.each([
    ['PRICE_INCREASE', 'PENDING'],
    ['PRICE_INCREASE', 'ACCEPTED'],
    ['REFUND_DECLINED', undefined],
    ['CONSUMPTION_REQUEST', undefined],
    ['RENEWAL_EXTENSION', 'FAILURE'],
    ['METADATA_UPDATE', undefined],
    ['MIGRATION', undefined],
    ['PRICE_CHANGE', undefined],
    ['RESCIND_CONSENT', undefined],
    ['EXTERNAL_PURCHASE_TOKEN', 'UNREPORTED'],
  ])('%s %s is recorded as a notice, with no entitlement effect beyond its signed data', (type, subtype) => {
    const translation = factsOf(withPurchase(type, subtype));
    expect(translation.known).toBe(true);
    expect(translation.facts).toContainEqual({
      type: 'StoreNoticeRecorded',
      data: { notice: `apple:${type}${subtype ? `/${subtype}` : ''}`, observedAt: iso(T0 + DAY) },
    });
  });

  it.each([
    ['TEST', undefined],
    ['RENEWAL_EXTENSION', 'SUMMARY'],
    ['EXTERNAL_PURCHASE_TOKEN', undefined],
  ])('%s %s concerns no single purchase', (type, subtype) => {
    expect(translateAppleNotification(notice(type, subtype))).toEqual({
      kind: 'no_purchase',
      notice: `apple:${type}${subtype ? `/${subtype}` : ''}`,
      known: true,
    });
  });

  it('records an unknown type or subtype as a notice and says it is unknown', () => {
    expect(factsOf(withPurchase('SOMETHING_NEW', 'SHINY'))).toMatchObject({
      known: false,
      facts: expect.arrayContaining([
        expect.objectContaining({
          type: 'StoreNoticeRecorded',
          data: expect.objectContaining({ notice: 'apple:SOMETHING_NEW/SHINY' }),
        }),
      ]),
    });
    expect(factsOf(withPurchase('DID_RENEW', 'NEW_SUBTYPE')).known).toBe(false);
  });

  it('refuses environments that are not Production or Sandbox', () => {
    expect(() =>
      translateAppleNotification(withPurchase('SUBSCRIBED', 'INITIAL_BUY', transaction({ environment: 'Xcode' }))),
    ).toThrow(UnsupportedAppleEnvironment);
  });
});
