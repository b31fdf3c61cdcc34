import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import type { SubscriptionPurchaseV2 } from '../../src/ingest/google/play-developer-api.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { startFakePlayDeveloperApi, type FakePlayDeveloperApi } from '../../src/dev/google/fake-play-developer-api.ts';

/*
 * Purchases Android apps submit, over real HTTP, verified with a fake Play Developer
 * API; and a customer with both an App Store and a Play purchase.
 */
const PACKAGE = 'com.example.pulse';
const DAY = 86_400_000;

let play: FakePlayDeveloperApi;
let harness: AppleHarness;
beforeAll(async () => {
  play = await startFakePlayDeveloperApi({ packageName: PACKAGE });
  const key = await play.createServiceAccountKey();
  harness = await startAppleHarness({
    GOOGLE_SERVICE_ACCOUNT_KEY_FILE: key.keyFile,
    GOOGLE_PLAY_API_URL: play.rootUrl,
  });
});
afterAll(async () => {
  await harness?.stop();
  await play?.close();
});
beforeEach(() => harness.reset());

let tokens = 0;
function subscription(productId = 'premium_monthly'): { token: string; purchase: SubscriptionPurchaseV2 } {
  const token = `submitted-token-${++tokens}-${'z'.repeat(40)}`;
  const order = `GPA.9000-${tokens}`;
  return {
    token,
    purchase: {
      kind: 'androidpublisher#subscriptionPurchaseV2',
      startTime: new Date(Date.now() - DAY).toISOString(),
      subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE',
      acknowledgementState: 'ACKNOWLEDGEMENT_STATE_PENDING',
      lineItems: [
        {
          productId,
          expiryTime: new Date(Date.now() + 29 * DAY).toISOString(),
          latestSuccessfulOrderId: order,
          autoRenewingPlan: { autoRenewEnabled: true },
        },
      ],
    },
  };
}
const submit = (appUserId: string, body: unknown) => harness.post(`/v1/customers/${appUserId}/purchases/google`, body);
type Customer = {
  entitlements: Record<string, Record<string, unknown>>;
  subscriptions: Record<string, Record<string, unknown>>;
};

describe('POST /v1/customers/{appUserId}/purchases/google', () => {
  it('verifies the token with Google, records, links and acknowledges it, and answers with the entitlements', async () => {
    const { token, purchase } = subscription();
    play.putSubscription(token, purchase);
    const answer = await submit('alice', { packageName: PACKAGE, productId: 'premium_monthly', purchaseToken: token });
    expect(answer.status).toBe(200);
    expect((answer.body as Customer).entitlements.premium).toMatchObject({
      active: true,
      store: 'play_store',
      purchaseId: token,
      productId: 'premium_monthly',
    });
    expect(play.acknowledgements).toContainEqual(
      expect.objectContaining({ kind: 'subscription', purchaseToken: token }),
    );
    const links = (await harness.subledger.eventStore.readStream(`purchase:play_store:production:${token}`)).filter(
      (e) => e.type === 'PurchaseLinkedToAppUser',
    );
    expect(links.map((e) => e.data)).toEqual([expect.objectContaining({ appUserId: 'alice', via: 'app_submission' })]);
  });

  it('moves a purchase restored on another account to it (the sample app transfers on restore)', async () => {
    const { token, purchase } = subscription();
    play.putSubscription(token, purchase);
    const body = { packageName: PACKAGE, productId: 'premium_monthly', purchaseToken: token };
    expect((await submit('alice', body)).status).toBe(200);
    const restored = await submit('bob', body);
    expect((restored.body as Customer).entitlements.premium).toMatchObject({ active: true });
    expect((await harness.get('/v1/customers/alice')).body.entitlements).toEqual({});
  });

  it('shows an App Store and a Play purchase of one app user as one customer', async () => {
    await harness.notify({
      type: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      signedDate: Date.now() - 60_000,
      transaction: { appAccountToken: 'c0ffee00-0000-4000-8000-000000000001' },
    });
    await harness.processed();
    const { token, purchase } = subscription('coaching_monthly');
    play.putSubscription(token, purchase);
    const body = { packageName: PACKAGE, productId: 'coaching_monthly', purchaseToken: token };
    const answer = await submit('c0ffee00-0000-4000-8000-000000000001', body);
    expect(answer.status).toBe(200);
    const customer = answer.body as Customer;
    expect(customer.entitlements.coaching).toMatchObject({ active: true, store: 'play_store' });
    expect(customer.entitlements.premium).toMatchObject({ active: true });
    expect(
      Object.values(customer.subscriptions)
        .map((s) => s.store)
        .sort(),
    ).toEqual(['app_store', 'play_store']);
  });

  it('is asked about again by support’s reconcile, which records what Google says now', async () => {
    const { token, purchase } = subscription();
    play.putSubscription(token, purchase);
    expect(
      (await submit('ray', { packageName: PACKAGE, productId: 'premium_monthly', purchaseToken: token })).status,
    ).toBe(200);
    // The user turned auto-renew off in Play; no notification reached Subledger.
    play.putSubscription(token, {
      ...purchase,
      subscriptionState: 'SUBSCRIPTION_STATE_CANCELED',
      acknowledgementState: 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED',
      lineItems: [{ ...purchase.lineItems![0]!, autoRenewingPlan: { autoRenewEnabled: false } }],
    });
    const admin = (await new ApiKeys(harness.db.pool).create('support', 'admin')).secret;
    const response = await fetch(`${harness.subledger.url}/v1/admin/customers/ray/reconcile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(await response.json()).toMatchObject({
      purchases: [{ store: 'play_store', purchaseId: token, outcome: 'asked' }],
    });
    await harness.processed();
    expect(((await harness.get('/v1/customers/ray')).body as Customer).entitlements.premium).toMatchObject({
      active: true,
      willRenew: false,
    });
  });

  describe('refuses, with a code', () => {
    const body = (fields: Record<string, string> = {}) => ({
      packageName: PACKAGE,
      productId: 'premium_monthly',
      purchaseToken: 'never-issued-token',
      ...fields,
    });
    const refusal = async (answer: ReturnType<typeof submit>) => {
      const { status, type, body } = await answer;
      expect(type).toContain('application/problem+json');
      return { status, code: body.code };
    };

    it('a package or product the catalog does not know, and a token Google does not know', async () => {
      expect(await refusal(submit('alice', body({ packageName: 'com.example.other' })))).toEqual({
        status: 422,
        code: 'unknown_package',
      });
      expect(await refusal(submit('alice', body({ productId: 'gold_bars' })))).toEqual({
        status: 422,
        code: 'unknown_product',
      });
      expect(await refusal(submit('alice', body()))).toEqual({ status: 422, code: 'purchase_not_found' });
      expect(await harness.counts()).toMatchObject({ events: 0 });
    });

    it('Google unavailable: 503, so the app tries again', async () => {
      const { token, purchase } = subscription();
      play.putSubscription(token, purchase);
      play.failNextRequests(10);
      expect(await refusal(submit('alice', body({ purchaseToken: token })))).toEqual({
        status: 503,
        code: 'store_unavailable',
      });
      expect(await harness.counts()).toMatchObject({ events: 0 });
    });

    it('a body that is not a Play purchase', async () => {
      expect(await refusal(submit('alice', { purchaseToken: 'x' }))).toEqual({
        status: 400,
        code: 'malformed_request',
      });
    });
  });
});
