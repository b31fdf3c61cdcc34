import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakePlayDeveloperApi } from '../../src/dev/google/fake-play-developer-api.ts';
import type { SubscriptionPurchaseV2 } from '../../src/ingest/google/play-developer-api.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { eventually } from '../support/eventually.ts';
import {
  GOOGLE_PACKAGE as PACKAGE,
  startFakeGoogle,
  subscriptionNotification,
  type FakeGoogle,
} from '../support/fake-google.ts';

/*
 * Play notifications end to end over real HTTP: a Pub/Sub push signed by a test
 * signer, Subledger asking a fake Play Developer API (with its own OAuth token
 * endpoint and a generated service account key) for the subscription's state,
 * recording it, acknowledging it, and the customer's entitlements.
 */
const DAY = 86_400_000;

let google: FakeGoogle;
let harness: AppleHarness;
let play: FakePlayDeveloperApi;
/** The service's clock: real time, moved ahead where a test needs a moment to have passed. */
let ahead = 0;
beforeAll(async () => {
  google = await startFakeGoogle();
  play = google.play;
  harness = await startAppleHarness(google.env, { clock: { now: () => new Date(Date.now() + ahead) } });
});
afterAll(async () => {
  await harness?.stop();
  await google?.close();
});
beforeEach(() => {
  ahead = 0;
  return harness.reset();
});

let tokens = 0;
const newToken = () => `play-token-${++tokens}-${'x'.repeat(40)}`;

function activeSubscription(fields: Partial<SubscriptionPurchaseV2> = {}): SubscriptionPurchaseV2 {
  const now = Date.now();
  return {
    kind: 'androidpublisher#subscriptionPurchaseV2',
    regionCode: 'DE',
    startTime: new Date(now - DAY).toISOString(),
    subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE',
    latestOrderId: 'GPA.1111-2222-3333-44444',
    acknowledgementState: 'ACKNOWLEDGEMENT_STATE_PENDING',
    externalAccountIdentifiers: { obfuscatedExternalAccountId: 'alice' },
    lineItems: [
      {
        productId: 'premium_monthly',
        expiryTime: new Date(now + 29 * DAY).toISOString(),
        latestSuccessfulOrderId: 'GPA.1111-2222-3333-44444',
        autoRenewingPlan: { autoRenewEnabled: true },
        offerDetails: { basePlanId: 'monthly' },
      },
    ],
    ...fields,
  } as SubscriptionPurchaseV2;
}

async function push(notification: unknown, messageId?: string) {
  expect((await google.push(harness.subledger.url, notification, messageId)).status).toBe(200);
}

const premiumOf = async (appUserId: string) =>
  ((await harness.get(`/v1/customers/${appUserId}`)).body.entitlements as Record<string, Record<string, unknown>>)
    .premium;

describe('Play subscription notifications', () => {
  it('records a purchase from Google’s answer, links it to the app’s account id, and acknowledges it', async () => {
    const token = newToken();
    play.putSubscription(token, activeSubscription());
    await push(subscriptionNotification(token, 4)); // SUBSCRIPTION_PURCHASED
    await harness.processed();
    expect(await premiumOf('alice')).toMatchObject({
      active: true,
      store: 'play_store',
      environment: 'production',
      purchaseId: token,
      productId: 'premium_monthly',
      willRenew: true,
    });
    expect(play.acknowledgements).toContainEqual(
      expect.objectContaining({ kind: 'subscription', purchaseToken: token }),
    );
    const { rows } = await harness.db.pool.query(`SELECT kind FROM source_documents ORDER BY kind`);
    expect(rows.map((r) => r.kind)).toEqual(['google.rtdn', 'google.subscriptionsv2.get']);
  });

  it('records the same facts once however often Pub/Sub delivers, and retries while Google is unavailable', async () => {
    const token = newToken();
    const eventTime = Date.now() - 60_000;
    play.putSubscription(token, activeSubscription());
    play.failNextRequests(6); // more than the client's own retries: the intake queue retries the message
    await push(subscriptionNotification(token, 4, eventTime), 'message-1');
    await eventually(
      () => premiumOf('alice'),
      (premium) => premium?.active === true,
      20_000,
    );
    const stream = () => harness.subledger.eventStore.readStream(`purchase:play_store:production:${token}`);
    const recorded = (await stream()).map((e) => e.id);
    await push(subscriptionNotification(token, 4, eventTime), 'message-1'); // redelivered
    await push(subscriptionNotification(token, 4, eventTime), 'message-2'); // the same event, another message
    await harness.processed();
    expect((await stream()).map((e) => e.id)).toEqual(recorded);
  });

  it('keeps access through a grace period, takes it away on hold, and gives it back on recovery', async () => {
    const token = newToken();
    const now = Date.now();
    const period = (orderId: string, expiry: number) => [
      {
        productId: 'premium_monthly',
        expiryTime: new Date(expiry).toISOString(),
        latestSuccessfulOrderId: orderId,
        autoRenewingPlan: { autoRenewEnabled: true },
      },
    ];
    // Bought 33 days ago (a subscription's start never changes); the first period ended 3 days ago.
    const startTime = new Date(now - 33 * DAY).toISOString();
    const acknowledged = { startTime, acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED' } as const;
    play.putSubscription(token, activeSubscription({ startTime, lineItems: period('GPA.1-1', now - 3 * DAY) }));
    await push(subscriptionNotification(token, 4, now - 33 * DAY));
    await harness.processed();
    // In grace, Google's expiry is the grace end: two seconds from now.
    const graceEnd = Date.now() + 2_000;
    play.putSubscription(
      token,
      activeSubscription({
        ...acknowledged,
        subscriptionState: 'SUBSCRIPTION_STATE_IN_GRACE_PERIOD',
        lineItems: period('GPA.1-1', graceEnd),
      }),
    );
    await push(subscriptionNotification(token, 6, now - 3 * DAY)); // SUBSCRIPTION_IN_GRACE_PERIOD
    await harness.processed();
    expect(await premiumOf('alice')).toMatchObject({
      active: true,
      gracePeriodExpiresAt: new Date(graceEnd).toISOString(),
    });

    ahead = graceEnd - Date.now() + 100; // the grace period is over, for the service
    play.putSubscription(
      token,
      activeSubscription({
        ...acknowledged,
        subscriptionState: 'SUBSCRIPTION_STATE_ON_HOLD',
        lineItems: period('GPA.1-1', graceEnd),
      }),
    );
    await push(subscriptionNotification(token, 5)); // SUBSCRIPTION_ON_HOLD
    await harness.processed();
    // On hold, Google keeps the subscription renewing, retrying the payment.
    expect(await premiumOf('alice')).toMatchObject({ active: false, willRenew: true });

    play.putSubscription(
      token,
      activeSubscription({ ...acknowledged, lineItems: period('GPA.1-1..0', Date.now() + 30 * DAY) }),
    );
    await push(subscriptionNotification(token, 1)); // SUBSCRIPTION_RECOVERED
    await harness.processed();
    expect(await premiumOf('alice')).toMatchObject({ active: true, willRenew: true, billingIssueDetectedAt: null });
  });

  it('pauses and resumes', async () => {
    const token = newToken();
    play.putSubscription(token, activeSubscription());
    await push(subscriptionNotification(token, 4, Date.now() - DAY));
    await harness.processed();
    const resumesAt = new Date(Date.now() + 7 * DAY).toISOString();
    play.putSubscription(
      token,
      activeSubscription({
        acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
        subscriptionState: 'SUBSCRIPTION_STATE_PAUSED',
        pausedStateContext: { autoResumeTime: resumesAt },
        lineItems: [
          {
            productId: 'premium_monthly',
            expiryTime: new Date(Date.now() - 60_000).toISOString(),
            latestSuccessfulOrderId: 'GPA.1111-2222-3333-44444',
            autoRenewingPlan: { autoRenewEnabled: true },
          },
        ],
      }),
    );
    await push(subscriptionNotification(token, 10)); // SUBSCRIPTION_PAUSED
    await harness.processed();
    expect(await premiumOf('alice')).toMatchObject({ active: false });
    const pausedStream = await harness.subledger.eventStore.readStream(`purchase:play_store:production:${token}`);
    expect(pausedStream.map((e) => e.type)).toContain('SubscriptionPaused');

    play.putSubscription(
      token,
      activeSubscription({
        acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
        lineItems: [
          {
            productId: 'premium_monthly',
            expiryTime: new Date(Date.now() + 30 * DAY).toISOString(),
            latestSuccessfulOrderId: 'GPA.1111-2222-3333-44444..0',
            autoRenewingPlan: { autoRenewEnabled: true },
          },
        ],
      }),
    );
    await push(subscriptionNotification(token, 7)); // SUBSCRIPTION_RESTARTED (resumed)
    await harness.processed();
    expect(await premiumOf('alice')).toMatchObject({ active: true });
  });

  it('supersedes the old purchase on an upgrade, giving one entitlement, and shows the chain', async () => {
    const monthly = newToken();
    play.putSubscription(monthly, activeSubscription());
    await push(subscriptionNotification(monthly, 4, Date.now() - 10 * DAY));
    await harness.processed();
    // Upgraded today to the coaching plan: Google replaces the old purchase with a new token.
    const coaching = newToken();
    const upgradedAt = Date.now() - 60_000;
    play.putSubscription(
      monthly,
      activeSubscription({
        acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
        subscriptionState: 'SUBSCRIPTION_STATE_EXPIRED',
        canceledStateContext: { replacementCancellation: {} },
        lineItems: [
          {
            productId: 'premium_monthly',
            expiryTime: new Date(upgradedAt).toISOString(),
            latestSuccessfulOrderId: 'GPA.1111-2222-3333-44444',
            autoRenewingPlan: { autoRenewEnabled: false },
          },
        ],
      }),
    );
    play.putSubscription(
      coaching,
      activeSubscription({
        startTime: new Date(upgradedAt).toISOString(),
        linkedPurchaseToken: monthly,
        lineItems: [
          {
            productId: 'coaching_monthly',
            expiryTime: new Date(Date.now() + 30 * DAY).toISOString(),
            latestSuccessfulOrderId: 'GPA.5555-6666-7777-88888',
            autoRenewingPlan: { autoRenewEnabled: true },
          },
        ],
      }),
    );
    await push(subscriptionNotification(coaching, 4));
    await harness.processed();
    const customer = (await harness.get('/v1/customers/alice')).body as {
      entitlements: Record<string, Record<string, unknown>>;
      subscriptions: Record<string, Record<string, unknown>>;
    };
    expect(customer.entitlements.premium).toMatchObject({
      active: true,
      purchaseId: coaching,
      productId: 'premium_coaching_monthly',
    });
    expect(customer.entitlements.coaching).toMatchObject({ active: true, purchaseId: coaching });
    expect(customer.subscriptions.premium_monthly).toMatchObject({ active: false, willRenew: false });
    const notices = async (token: string) =>
      (await harness.subledger.eventStore.readStream(`purchase:play_store:production:${token}`))
        .filter((e) => e.type === 'StoreNoticeRecorded')
        .map((e) => (e.data as { notice: string }).notice);
    expect(await notices(monthly)).toContain(`play:replaced_by/${coaching}`);
    expect(await notices(coaching)).toContain(`play:replaces/${monthly}`);
  });

  it('revokes access on a refund notification', async () => {
    const token = newToken();
    play.putSubscription(token, activeSubscription());
    await push(subscriptionNotification(token, 4, Date.now() - DAY));
    await harness.processed();
    await push({
      version: '1.0',
      packageName: PACKAGE,
      eventTimeMillis: String(Date.now()),
      voidedPurchaseNotification: {
        purchaseToken: token,
        orderId: 'GPA.1111-2222-3333-44444',
        productType: 1,
        refundType: 1,
      },
    });
    await harness.processed();
    expect(await premiumOf('alice')).toMatchObject({ active: false, revokedAt: expect.any(String) });
  });
});

describe('Play notifications, shuffled and duplicated', () => {
  it('give the same final entitlements whatever the order', async () => {
    // A month of one subscription's life, pushed in a random order with duplicates; Google
    // answers with the state now (cancelled, still in its period) whichever it is asked about.
    for (const seed of [1, 2, 3]) {
      const token = newToken();
      const start = Date.now() - 20 * DAY;
      play.putSubscription(
        token,
        activeSubscription({
          startTime: new Date(start).toISOString(),
          subscriptionState: 'SUBSCRIPTION_STATE_CANCELED',
          acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
          externalAccountIdentifiers: { obfuscatedExternalAccountId: `shuffled-${seed}` },
          lineItems: [
            {
              productId: 'premium_monthly',
              expiryTime: new Date(start + 30 * DAY).toISOString(),
              latestSuccessfulOrderId: `GPA.7777-${seed}`,
              autoRenewingPlan: { autoRenewEnabled: false },
            },
          ],
        }),
      );
      const lifecycle = [
        subscriptionNotification(token, 4, start),
        subscriptionNotification(token, 18, start + 5 * DAY),
        subscriptionNotification(token, 3, start + 5 * DAY + 1),
      ];
      const deliveries = shuffled([...lifecycle, ...lifecycle.slice(0, 2)], seed);
      for (const notification of deliveries) await push(notification);
      await harness.processed();
      expect(await premiumOf(`shuffled-${seed}`)).toMatchObject({
        active: true,
        willRenew: false,
        expiresAt: new Date(start + 30 * DAY).toISOString(),
      });
    }
  });
});

describe('Play one-time products', () => {
  it('records a purchase of a lifetime product, acknowledges it, and gives lasting access', async () => {
    const token = newToken();
    play.putProduct('premium_lifetime', token, {
      kind: 'androidpublisher#productPurchase',
      purchaseTimeMillis: String(Date.now() - 60_000),
      purchaseState: 0,
      consumptionState: 0,
      orderId: 'GPA.4444-0000',
      acknowledgementState: 0,
      obfuscatedExternalAccountId: 'lifetime-user',
    });
    await push({
      version: '1.0',
      packageName: PACKAGE,
      eventTimeMillis: String(Date.now()),
      oneTimeProductNotification: {
        version: '1.0',
        notificationType: 1,
        purchaseToken: token,
        sku: 'premium_lifetime',
      },
    });
    await harness.processed();
    expect(await premiumOf('lifetime-user')).toMatchObject({
      active: true,
      expiresAt: null,
      productId: 'premium_lifetime',
    });
    expect(play.acknowledgements).toContainEqual(expect.objectContaining({ kind: 'product', purchaseToken: token }));
  });
});

/** A deterministic shuffle (a seeded Fisher-Yates), so a failing order can be replayed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
