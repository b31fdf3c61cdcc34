import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY, MONTHLY, type NotificationSpec } from '../../src/dev/apple/test-notifications.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';

/*
 * Every App Store Server Notifications V2 type and subtype, posted over real HTTP,
 * signed by the test CA, processed by the intake worker: the events each one
 * records and, where it has one, its effect on the customer's entitlements.
 * (apple-translation.unit.spec.ts covers the translation's details.)
 */
let harness: AppleHarness;
beforeAll(async () => {
  harness = await startAppleHarness();
});
afterAll(() => harness?.stop());

const NOW = Math.floor(Date.now() / 1000) * 1000;
const HOUR = 3_600_000;
const YEARLY = 'com.example.pulse.premium.yearly';
const COACHING = 'com.example.pulse.coaching.monthly';
/** What the default renewal info says: auto-renew on, no product change pending. */
const RENEWS = ['AutoRenewTurnedOn', 'ProductChangeCancelled'];
const STOPPED = ['AutoRenewTurnedOff', 'ProductChangeCancelled'];

/** A period that ended just now, for notifications about a subscription that lapsed. */
const lapsed = { purchaseDate: NOW - 30 * DAY, expiresDate: NOW - HOUR };
/** The second period of a subscription (a renewal, a resubscribe). */
const secondPeriod = { transactionId: 'renewal', purchaseDate: NOW - HOUR, expiresDate: NOW + 30 * DAY };

interface Case {
  readonly type: string;
  readonly subtype?: string;
  readonly transaction?: Record<string, unknown> | false;
  readonly renewalInfo?: Record<string, unknown> | false;
  /** The event types recorded in the purchase's stream, in any order; [] for notifications about no purchase. */
  readonly events: readonly string[];
  /** The user's entitlements an hour later: ids of the active ones. */
  readonly active?: readonly string[];
  readonly check?: (events: readonly RecordedFact[]) => void | Promise<void>;
}
interface RecordedFact {
  readonly type: string;
  readonly data: Record<string, unknown>;
}
const fact = (events: readonly RecordedFact[], type: string) => events.find((e) => e.type === type)?.data;

const CASES: Case[] = [
  { type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', events: ['SubscriptionStarted', ...RENEWS], active: ['premium'] },
  {
    type: 'SUBSCRIBED',
    subtype: 'RESUBSCRIBE',
    transaction: secondPeriod,
    events: ['SubscriptionRenewed', ...RENEWS],
    active: ['premium'],
  },
  { type: 'DID_RENEW', transaction: secondPeriod, events: ['SubscriptionRenewed', ...RENEWS], active: ['premium'] },
  {
    type: 'DID_RENEW',
    subtype: 'BILLING_RECOVERY',
    transaction: secondPeriod,
    events: ['SubscriptionRenewed', ...RENEWS, 'BillingRecovered'],
    active: ['premium'],
  },
  {
    type: 'DID_FAIL_TO_RENEW',
    transaction: lapsed,
    renewalInfo: { isInBillingRetryPeriod: true },
    events: ['SubscriptionStarted', ...RENEWS, 'RenewalFailed'],
    active: [],
  },
  {
    type: 'DID_FAIL_TO_RENEW',
    subtype: 'GRACE_PERIOD',
    transaction: lapsed,
    renewalInfo: { isInBillingRetryPeriod: true, gracePeriodExpiresDate: NOW + 6 * DAY },
    events: ['SubscriptionStarted', ...RENEWS, 'RenewalFailed'],
    // Billing grace: access continues while Apple retries the charge.
    active: ['premium'],
    check: (events) =>
      expect(fact(events, 'RenewalFailed')).toMatchObject({ gracePeriodEndsAt: new Date(NOW + 6 * DAY).toISOString() }),
  },
  {
    type: 'GRACE_PERIOD_EXPIRED',
    transaction: lapsed,
    renewalInfo: { isInBillingRetryPeriod: true },
    events: ['SubscriptionStarted', ...RENEWS, 'RenewalFailed', 'GracePeriodExpired'],
    active: [],
  },
  ...(
    [
      ['VOLUNTARY', 'voluntary'],
      ['BILLING_RETRY', 'billing_error'],
      ['PRICE_INCREASE', 'price_increase_declined'],
      ['PRODUCT_NOT_FOR_SALE', 'product_unavailable'],
    ] as const
  ).map(([subtype, reason]): Case => ({
    type: 'EXPIRED',
    subtype,
    transaction: lapsed,
    renewalInfo: { autoRenewStatus: 0 },
    events: ['SubscriptionStarted', ...STOPPED, 'SubscriptionExpired'],
    active: [],
    check: (events) => expect(fact(events, 'SubscriptionExpired')).toMatchObject({ reason }),
  })),
  {
    type: 'DID_CHANGE_RENEWAL_PREF',
    subtype: 'UPGRADE',
    // An upgrade takes effect at once: a new transaction for the new product.
    transaction: { ...secondPeriod, productId: COACHING },
    events: ['SubscriptionRenewed', ...RENEWS, 'ProductChangeApplied'],
    active: ['coaching', 'premium'],
  },
  {
    type: 'DID_CHANGE_RENEWAL_PREF',
    subtype: 'DOWNGRADE',
    // A downgrade waits for the next renewal.
    transaction: { productId: COACHING },
    renewalInfo: { autoRenewProductId: MONTHLY },
    events: ['SubscriptionStarted', 'AutoRenewTurnedOn', 'ProductChangeScheduled'],
    active: ['coaching', 'premium'],
    check: (events) =>
      expect(fact(events, 'ProductChangeScheduled')).toMatchObject({ toProductId: MONTHLY, change: 'downgrade' }),
  },
  // No subtype: the customer went back to their current product, cancelling a pending change.
  { type: 'DID_CHANGE_RENEWAL_PREF', events: ['SubscriptionStarted', ...RENEWS], active: ['premium'] },
  {
    type: 'DID_CHANGE_RENEWAL_STATUS',
    subtype: 'AUTO_RENEW_ENABLED',
    events: ['SubscriptionStarted', ...RENEWS],
    active: ['premium'],
  },
  {
    type: 'DID_CHANGE_RENEWAL_STATUS',
    subtype: 'AUTO_RENEW_DISABLED',
    renewalInfo: { autoRenewStatus: 0 },
    events: ['SubscriptionStarted', ...STOPPED],
    // Turning auto-renew off keeps access until the period ends.
    active: ['premium'],
  },
  ...['', 'INITIAL_BUY', 'RESUBSCRIBE', 'UPGRADE', 'DOWNGRADE'].map((subtype): Case => ({
    type: 'OFFER_REDEEMED',
    ...(subtype && { subtype }),
    transaction: {
      ...(subtype === 'RESUBSCRIBE' || subtype === 'UPGRADE' ? secondPeriod : {}),
      offerType: 2,
      offerIdentifier: 'winter_promo',
    },
    events: [
      subtype === 'RESUBSCRIBE' || subtype === 'UPGRADE' ? 'SubscriptionRenewed' : 'SubscriptionStarted',
      ...RENEWS,
    ],
    active: ['premium'],
    check: (events) =>
      expect(events[0]!.data).toMatchObject({
        transaction: { offer: { type: 'promotional', id: 'winter_promo' } },
      }),
  })),
  ...['PENDING', 'ACCEPTED'].map((subtype): Case => ({
    type: 'PRICE_INCREASE',
    subtype,
    events: ['SubscriptionStarted', ...RENEWS, 'StoreNoticeRecorded'],
    active: ['premium'],
  })),
  {
    type: 'REFUND',
    transaction: { revocationDate: NOW, revocationReason: 0 },
    events: ['SubscriptionStarted', ...RENEWS, 'TransactionRefunded'],
    active: [],
  },
  { type: 'REFUND_DECLINED', events: ['SubscriptionStarted', ...RENEWS, 'StoreNoticeRecorded'], active: ['premium'] },
  { type: 'REFUND_REVERSED', events: ['SubscriptionStarted', ...RENEWS, 'RefundReversed'], active: ['premium'] },
  {
    type: 'REVOKE',
    // The family organiser stopped sharing: the family member loses access.
    transaction: { inAppOwnershipType: 'FAMILY_SHARED', revocationDate: NOW },
    events: ['SubscriptionStarted', ...RENEWS, 'TransactionRevoked'],
    active: [],
    check: (events) => expect(fact(events, 'TransactionRevoked')).toMatchObject({ reason: 'family_sharing_revoked' }),
  },
  {
    type: 'CONSUMPTION_REQUEST',
    transaction: { type: 'Consumable', productId: 'com.example.pulse.tip.small', expiresDate: undefined },
    renewalInfo: false,
    events: ['OneTimeProductPurchased', 'StoreNoticeRecorded'],
    active: [],
  },
  {
    type: 'RENEWAL_EXTENDED',
    transaction: { ...secondPeriod, expiresDate: NOW + 40 * DAY },
    events: ['RenewalExtended', ...RENEWS],
    active: ['premium'],
  },
  { type: 'RENEWAL_EXTENSION', subtype: 'SUMMARY', transaction: false, events: [] },
  {
    type: 'RENEWAL_EXTENSION',
    subtype: 'FAILURE',
    events: ['SubscriptionStarted', ...RENEWS, 'StoreNoticeRecorded'],
    active: ['premium'],
  },
  { type: 'TEST', transaction: false, events: [] },
  {
    type: 'ONE_TIME_CHARGE',
    transaction: { type: 'Non-Consumable', productId: 'com.example.pulse.premium.lifetime', expiresDate: undefined },
    renewalInfo: false,
    events: ['OneTimeProductPurchased'],
    active: ['premium'],
  },
  { type: 'EXTERNAL_PURCHASE_TOKEN', transaction: false, events: [] },
  { type: 'EXTERNAL_PURCHASE_TOKEN', subtype: 'UNREPORTED', transaction: false, events: [] },
  ...['METADATA_UPDATE', 'MIGRATION', 'PRICE_CHANGE'].map((type): Case => ({
    type,
    transaction: { productId: YEARLY, expiresDate: NOW + 365 * DAY },
    events: ['SubscriptionStarted', ...RENEWS, 'StoreNoticeRecorded'],
    active: ['premium'],
  })),
  { type: 'RESCIND_CONSENT', transaction: false, events: [] },
];

/** Types and subtypes this version does not know: recorded as notices and reported, never dropped. */
const UNKNOWN_CASES: Case[] = [
  {
    type: 'SOMETHING_NEW',
    events: ['SubscriptionStarted', ...RENEWS, 'StoreNoticeRecorded'],
    active: ['premium'],
    check: async (events) => {
      expect(fact(events, 'StoreNoticeRecorded')).toMatchObject({ notice: 'apple:SOMETHING_NEW' });
      const metrics = await (await fetch(`${harness.subledger.url}/metrics`)).text();
      expect(metrics).toMatch(/subledger_apple_unknown_notification_types_total\{type="SOMETHING_NEW"\} [1-9]/);
    },
  },
  {
    type: 'SUBSCRIBED',
    subtype: 'SOMETHING_NEW',
    events: ['SubscriptionStarted', ...RENEWS, 'StoreNoticeRecorded'],
    active: ['premium'],
    check: (events) =>
      expect(fact(events, 'StoreNoticeRecorded')).toMatchObject({ notice: 'apple:SUBSCRIBED/SOMETHING_NEW' }),
  },
  { type: 'SOMETHING_NEW', subtype: 'WITHOUT_A_PURCHASE', transaction: false, events: [] },
];

let purchaseCounter = 0;

async function postAndProcess(testCase: Case) {
  const originalTransactionId = `3000000${String(++purchaseCounter).padStart(9, '0')}`;
  const user = randomUUID();
  const uuid = randomUUID();
  const given = testCase.transaction;
  const transaction =
    given === false
      ? false
      : {
          originalTransactionId,
          appAccountToken: user,
          ...given,
          // A case's own transactionId only says "not the first period".
          transactionId: given?.transactionId ? `${originalTransactionId}1` : originalTransactionId,
        };
  const spec: NotificationSpec = {
    type: testCase.type,
    ...(testCase.subtype && { subtype: testCase.subtype }),
    uuid,
    signedDate: NOW,
    transaction,
    ...(testCase.renewalInfo !== undefined && { renewalInfo: testCase.renewalInfo }),
  };
  const answer = await harness.notify(spec);
  expect(answer).toMatchObject({ status: 200, body: { status: 'accepted' } });
  await harness.processed();
  const { rows: message } = await harness.db.pool.query(
    `SELECT state FROM intake_messages WHERE deduplication_id = $1`,
    [`apple:${uuid}`],
  );
  const { rows: events } = await harness.db.pool.query<RecordedFact>(
    `SELECT type, data FROM events WHERE metadata->>'correlationId' = $1 ORDER BY global_position`,
    [uuid],
  );
  return { state: message[0]?.state, events, user, originalTransactionId };
}

function describeCase(testCase: Case): string {
  const name = `${testCase.type}${testCase.subtype ? `/${testCase.subtype}` : ''}`;
  return testCase.events.length === 0 ? `${name}: archived, no purchase` : `${name}: ${testCase.events.join(', ')}`;
}

describe.each([
  ['every documented type and subtype', CASES],
  ['a type or subtype Subledger does not know yet', UNKNOWN_CASES],
])('App Store notifications over HTTP: %s', (_, cases) => {
  it.each(cases.map((c) => [describeCase(c), c] as const))('%s', async (_name, testCase) => {
    const { state, events, user, originalTransactionId } = await postAndProcess(testCase);
    expect(state).toBe('done');
    // Each purchase's transaction carries the user's app account token, which links it to them.
    const expected = testCase.events.length > 0 ? [...testCase.events, 'PurchaseLinkedToAppUser'] : [];
    expect(events.map((e) => e.type).sort()).toEqual(expected.sort());
    const stream = await harness.subledger.eventStore.readStream(`purchase:app_store:sandbox:${originalTransactionId}`);
    expect(stream).toHaveLength(expected.length);
    await testCase.check?.(events);
    if (testCase.active) {
      const entitlements = await harness.entitlementsOf(user, NOW + HOUR);
      expect(entitlements.filter((e) => e.active).map((e) => e.id)).toEqual(testCase.active);
    }
  });
});

it('covers every type and subtype the translator knows', async () => {
  // The catalogue of Apple's types lives in the translator; this keeps the table above complete.
  const { KNOWN_APPLE_NOTIFICATION_TYPES } = await import('../../src/ingest/apple/translate-notification.ts');
  const tested = new Set(CASES.map((c) => `${c.type}/${c.subtype ?? ''}`));
  const known = Object.entries(KNOWN_APPLE_NOTIFICATION_TYPES).flatMap(([type, subtypes]) =>
    subtypes.map((subtype) => `${type}/${subtype}`),
  );
  expect(known.filter((k) => !tested.has(k))).toEqual([]);
});
