import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakePlayDeveloperApi } from '../../src/dev/google/fake-play-developer-api.ts';
import type { SubscriptionPurchaseV2 } from '../../src/ingest/google/play-developer-api.ts';
import { PLAY_SUBSCRIPTION_NOTIFICATION_TYPES } from '../../src/ingest/google/translate-subscription.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { startFakeGoogle, subscriptionNotification, type FakeGoogle } from '../support/fake-google.ts';

/*
 * Every subscription notification type Google documents, and one it does not, pushed
 * over HTTP and processed against a fake Play Developer API whose answer fits the type:
 * what each records, and what the customer's entitlement then is.
 */
const DAY = 86_400_000;

let google: FakeGoogle;
let play: FakePlayDeveloperApi;
let harness: AppleHarness;
beforeAll(async () => {
  google = await startFakeGoogle();
  play = google.play;
  harness = await startAppleHarness(google.env);
});
afterAll(async () => {
  await harness?.stop();
  await google?.close();
});

type State = NonNullable<SubscriptionPurchaseV2['subscriptionState']>;
interface Case {
  readonly type: number;
  readonly state: State;
  /** Days from now when the period ends (negative: ended). */
  readonly expiresInDays?: number;
  readonly autoRenew?: boolean;
  /** A renewal's order id (`..0`) rather than the first order's. */
  readonly renewal?: boolean;
  readonly records: string;
  readonly active: boolean;
}

const notice = (name: string) => `StoreNoticeRecorded ${name}`;
const CASES: readonly Case[] = [
  { type: 1, state: 'SUBSCRIPTION_STATE_ACTIVE', records: 'BillingRecovered', active: true },
  { type: 2, state: 'SUBSCRIPTION_STATE_ACTIVE', renewal: true, records: 'SubscriptionRenewed', active: true },
  { type: 3, state: 'SUBSCRIPTION_STATE_CANCELED', autoRenew: false, records: 'AutoRenewTurnedOff', active: true },
  { type: 4, state: 'SUBSCRIPTION_STATE_ACTIVE', records: 'SubscriptionStarted', active: true },
  { type: 5, state: 'SUBSCRIPTION_STATE_ON_HOLD', expiresInDays: -1, records: 'SubscriptionPutOnHold', active: false },
  { type: 6, state: 'SUBSCRIPTION_STATE_IN_GRACE_PERIOD', expiresInDays: 3, records: 'RenewalFailed', active: true },
  { type: 7, state: 'SUBSCRIPTION_STATE_ACTIVE', records: 'AutoRenewTurnedOn', active: true },
  {
    type: 8,
    state: 'SUBSCRIPTION_STATE_ACTIVE',
    records: notice('play:SUBSCRIPTION_PRICE_CHANGE_CONFIRMED'),
    active: true,
  },
  { type: 9, state: 'SUBSCRIPTION_STATE_ACTIVE', records: 'RenewalExtended', active: true },
  { type: 10, state: 'SUBSCRIPTION_STATE_PAUSED', expiresInDays: -1, records: 'SubscriptionPaused', active: false },
  {
    type: 11,
    state: 'SUBSCRIPTION_STATE_ACTIVE',
    records: notice('play:SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED'),
    active: true,
  },
  { type: 12, state: 'SUBSCRIPTION_STATE_EXPIRED', autoRenew: false, records: 'TransactionRefunded', active: false },
  {
    type: 13,
    state: 'SUBSCRIPTION_STATE_EXPIRED',
    expiresInDays: -1,
    autoRenew: false,
    records: 'SubscriptionExpired',
    active: false,
  },
  { type: 17, state: 'SUBSCRIPTION_STATE_ACTIVE', records: notice('play:SUBSCRIPTION_ITEMS_CHANGED'), active: true },
  {
    type: 18,
    state: 'SUBSCRIPTION_STATE_ACTIVE',
    records: notice('play:SUBSCRIPTION_CANCELLATION_SCHEDULED'),
    active: true,
  },
  {
    type: 19,
    state: 'SUBSCRIPTION_STATE_ACTIVE',
    records: notice('play:SUBSCRIPTION_PRICE_CHANGE_UPDATED'),
    active: true,
  },
  {
    type: 20,
    state: 'SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED',
    records: notice('play:SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED'),
    active: false,
  },
  {
    type: 22,
    state: 'SUBSCRIPTION_STATE_ACTIVE',
    records: notice('play:SUBSCRIPTION_PRICE_STEP_UP_CONSENT_UPDATED'),
    active: true,
  },
  { type: 99, state: 'SUBSCRIPTION_STATE_ACTIVE', records: notice('play:subscriptionNotification/99'), active: true },
];

function answer(c: Case, user: string): SubscriptionPurchaseV2 {
  const order = `GPA.3333-${c.type}`;
  return {
    kind: 'androidpublisher#subscriptionPurchaseV2',
    startTime: new Date(Date.now() - 2 * DAY).toISOString(),
    subscriptionState: c.state,
    acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
    externalAccountIdentifiers: { obfuscatedExternalAccountId: user },
    lineItems: [
      {
        productId: 'premium_monthly',
        expiryTime: new Date(Date.now() + (c.expiresInDays ?? 28) * DAY).toISOString(),
        latestSuccessfulOrderId: c.renewal ? `${order}..0` : order,
        autoRenewingPlan: { autoRenewEnabled: c.autoRenew ?? true },
      },
    ],
  };
}

async function recorded(token: string): Promise<string[]> {
  const events = await harness.subledger.eventStore.readStream(`purchase:play_store:production:${token}`);
  return events.map((e) => (e.type === 'StoreNoticeRecorded' ? notice((e.data as { notice: string }).notice) : e.type));
}

describe('every Play subscription notification type, through HTTP', () => {
  it('has a case for each type Subledger knows', () => {
    expect(CASES.map((c) => c.type).filter((t) => t in PLAY_SUBSCRIPTION_NOTIFICATION_TYPES)).toEqual(
      Object.keys(PLAY_SUBSCRIPTION_NOTIFICATION_TYPES).map(Number),
    );
  });

  it.each(CASES)('type $type ($state): records $records, premium active: $active', async (c) => {
    const token = `types-token-${c.type}-${'y'.repeat(40)}`;
    const user = `types-user-${c.type}`;
    play.putSubscription(token, answer(c, user));
    const response = await google.push(
      harness.subledger.url,
      subscriptionNotification(token, c.type, Date.now() - 1_000),
    );
    expect(response.status).toBe(200);
    await harness.processed();
    expect(await recorded(token)).toContain(c.records);
    const customer = (await harness.get(`/v1/customers/${user}`)).body as {
      entitlements: Record<string, { active: boolean }>;
    };
    expect(customer.entitlements.premium?.active ?? false).toBe(c.active);
  });

  it('counts the types it does not know at /metrics', async () => {
    const text = await (await fetch(`${harness.subledger.url}/metrics`)).text();
    expect(text).toMatch(/subledger_google_unknown_notification_types_total\{type="subscriptionNotification\/99"\} 1/);
  });
});
