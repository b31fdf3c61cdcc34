import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  PlayApiAccessError,
  PlayApiUnavailableError,
  PlayDeveloperApiError,
  PlayPurchaseRefusedError,
} from '../../src/ingest/google/play-api-errors.ts';
import {
  PlayDeveloperApi,
  type PlayDeveloperApiOptions,
  type ProductPurchase,
  type SubscriptionPurchaseV2,
  type VoidedPurchase,
} from '../../src/ingest/google/play-developer-api.ts';
import {
  startFakePlayDeveloperApi,
  writeTestServiceAccountKey,
  type FakePlayDeveloperApi,
  type TestServiceAccountKey,
} from '../../src/dev/google/fake-play-developer-api.ts';
import { freePort } from '../support/free-port.ts';

const PACKAGE = 'com.example.subledger';
const MONTHLY = 'premium_monthly';
const COINS = 'coins_100';
const DAY = 86_400_000;

const subscription = (overrides: Partial<SubscriptionPurchaseV2> = {}): SubscriptionPurchaseV2 => ({
  kind: 'androidpublisher#subscriptionPurchaseV2',
  regionCode: 'FR',
  startTime: '2026-01-01T10:00:00.000Z',
  subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE',
  acknowledgementState: 'ACKNOWLEDGEMENT_STATE_PENDING',
  lineItems: [
    {
      productId: MONTHLY,
      expiryTime: '2026-02-01T10:00:00.000Z',
      latestSuccessfulOrderId: 'GPA.3345-1234-5678-90123',
      autoRenewingPlan: { autoRenewEnabled: true },
      offerDetails: { basePlanId: 'monthly' },
    },
  ],
  ...overrides,
});

const product = (overrides: Partial<ProductPurchase> = {}): ProductPurchase => ({
  kind: 'androidpublisher#productPurchase',
  purchaseTimeMillis: '1767261600000',
  purchaseState: 0,
  consumptionState: 0,
  orderId: 'GPA.3345-9999-8888-77777',
  acknowledgementState: 0,
  regionCode: 'FR',
  ...overrides,
});

/** The error the call failed with; fails the test if it succeeded. */
async function failure(call: Promise<unknown>): Promise<PlayDeveloperApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlayDeveloperApiError);
  return error as PlayDeveloperApiError;
}

describe('Play Developer API client, against a fake Google Play over HTTP', () => {
  let fake: FakePlayDeveloperApi;
  let key: TestServiceAccountKey;

  const clientFor = (overrides: Partial<PlayDeveloperApiOptions> = {}) =>
    new PlayDeveloperApi({ keyFile: key.keyFile, rootUrl: fake.rootUrl, ...overrides });
  const apiRequests = () => fake.requests.filter((r) => r.path !== '/token').map((r) => `${r.method} ${r.path}`);
  const purchases = `/androidpublisher/v3/applications/${PACKAGE}/purchases`;

  beforeEach(async () => {
    fake = await startFakePlayDeveloperApi({ packageName: PACKAGE, pageSize: 2 });
    key = await fake.createServiceAccountKey();
  });
  afterEach(() => fake.close());

  it('gets a subscription as Google sends it, with one access token for several requests', async () => {
    fake.putSubscription('token-1', subscription());
    fake.putSubscription('token-2', subscription({ subscriptionState: 'SUBSCRIPTION_STATE_EXPIRED' }));
    const client = clientFor();

    expect(await client.getSubscription(PACKAGE, 'token-1')).toEqual(subscription());
    expect(await client.getSubscription(PACKAGE, 'token-2')).toMatchObject({
      subscriptionState: 'SUBSCRIPTION_STATE_EXPIRED',
    });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /token',
      `GET ${purchases}/subscriptionsv2/tokens/token-1`,
      `GET ${purchases}/subscriptionsv2/tokens/token-2`,
    ]);
  });

  it('asks nothing of anyone, nor reads the key, until the first request', async () => {
    const client = new PlayDeveloperApi({ keyFile: path.join(tmpdir(), 'no-such-key.json'), rootUrl: fake.rootUrl });
    expect(fake.requests).toEqual([]);
    await expect(client.getSubscription(PACKAGE, 'token-1')).rejects.toThrow(/ENOENT/);
  });

  it('acknowledges a subscription; acknowledging it again is a success, not an error', async () => {
    fake.putSubscription('token-1', subscription());
    const client = clientFor();

    await client.acknowledgeSubscription(PACKAGE, MONTHLY, 'token-1');
    await client.acknowledgeSubscription(PACKAGE, MONTHLY, 'token-1');

    expect(fake.subscription('token-1')?.acknowledgementState).toBe('ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED');
    expect(fake.acknowledgements).toEqual([{ kind: 'subscription', productId: MONTHLY, purchaseToken: 'token-1' }]);
    // The second one Google refuses (invalidPurchaseState); the purchase then shows it was acknowledged.
    expect(apiRequests()).toEqual([
      `POST ${purchases}/subscriptions/${MONTHLY}/tokens/token-1:acknowledge`,
      `POST ${purchases}/subscriptions/${MONTHLY}/tokens/token-1:acknowledge`,
      `GET ${purchases}/subscriptionsv2/tokens/token-1`,
    ]);
  });

  it('does not mistake the refusal to acknowledge a pending subscription for an acknowledgement', async () => {
    fake.putSubscription('token-1', subscription({ subscriptionState: 'SUBSCRIPTION_STATE_PENDING' }));

    const error = await failure(clientFor().acknowledgeSubscription(PACKAGE, MONTHLY, 'token-1'));

    expect(error).toBeInstanceOf(PlayPurchaseRefusedError);
    expect(error).toMatchObject({ httpStatus: 400, reason: 'invalidPurchaseState', retryable: false });
  });

  it('gets and acknowledges a one-time product, idempotently', async () => {
    fake.putProduct(COINS, 'token-3', product());
    const client = clientFor();

    expect(await client.getProduct(PACKAGE, COINS, 'token-3')).toEqual(product());
    await client.acknowledgeProduct(PACKAGE, COINS, 'token-3');
    await client.acknowledgeProduct(PACKAGE, COINS, 'token-3');

    expect(fake.product(COINS, 'token-3')?.acknowledgementState).toBe(1);
    expect(fake.acknowledgements).toEqual([{ kind: 'product', productId: COINS, purchaseToken: 'token-3' }]);
    // Google has both acknowledgements' bodies, the `{}` the method documents.
    expect(fake.requests.filter((r) => r.path.endsWith(':acknowledge')).map((r) => r.body)).toEqual([{}, {}]);
  });

  it('lists voided purchases across pages, subscriptions included, from the start time on', async () => {
    const now = Date.now();
    const voided = (token: string, daysAgo: number): VoidedPurchase => ({
      kind: 'androidpublisher#voidedPurchase',
      purchaseToken: token,
      orderId: `GPA.0000-0000-0000-${token}`,
      purchaseTimeMillis: String(now - 20 * DAY),
      voidedTimeMillis: String(now - daysAgo * DAY),
      voidedSource: 1,
      voidedReason: 1,
    });
    fake.putSubscription('sub-1', subscription());
    fake.putVoided([
      voided('old', 10),
      voided('sub-1', 4),
      voided('a', 5),
      voided('b', 3),
      voided('c', 2),
      voided('d', 1),
    ]);

    const listed = await clientFor().listVoidedPurchases(PACKAGE, { startTime: new Date(now - 6 * DAY) });

    // In the order Google voided them; the one voided before the start time left out.
    expect(listed.map((v) => v.purchaseToken)).toEqual(['a', 'sub-1', 'b', 'c', 'd']);
    const pages = fake.requests.filter((r) => r.path.endsWith('/voidedpurchases'));
    expect(pages.map((r) => [r.query.type, r.query.token !== undefined])).toEqual([
      ['1', false],
      ['1', true],
      ['1', true],
    ]);
  });

  it('resumes a voided purchases listing from a page token', async () => {
    const client = clientFor();
    const now = Date.now();
    fake.putVoided(
      ['a', 'b', 'c'].map((token, i) => ({ purchaseToken: token, voidedTimeMillis: String(now - (3 - i) * DAY) })),
    );
    await client.listVoidedPurchases(PACKAGE, { startTime: new Date(now - 5 * DAY) });
    const token = fake.requests.at(-1)!.query.token!;

    const rest = await client.listVoidedPurchases(PACKAGE, { startTime: new Date(now - 5 * DAY), token });

    expect(rest.map((v) => v.purchaseToken)).toEqual(['c']);
  });

  it('is refused (access, not the purchase’s fault) when its key is not the service account’s', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'subledger-forged-key-'));
    try {
      // Same account, same token endpoint, another private key: Google's token endpoint says invalid_grant.
      const forged = await writeTestServiceAccountKey({ dir, tokenUri: fake.tokenUrl, clientEmail: key.clientEmail });
      fake.putSubscription('token-1', subscription());

      const error = await failure(clientFor({ keyFile: forged.keyFile }).getSubscription(PACKAGE, 'token-1'));

      expect(error).toBeInstanceOf(PlayApiAccessError);
      expect(error).toMatchObject({ httpStatus: 400, reason: 'invalid_grant' });
      expect(apiRequests()).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['no bearer token', undefined, 'required'],
    ['an access token it did not issue', 'Bearer ya29.forged', 'authError'],
  ])('answers a request with %s 401 UNAUTHENTICATED, as Google does', async (_, authorization, reason) => {
    fake.putSubscription('token-1', subscription());

    const response = await fetch(`${fake.rootUrl}${purchases.slice(1)}/subscriptionsv2/tokens/token-1`, {
      headers: authorization ? { authorization } : {},
    });

    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({
      error: { code: 401, status: 'UNAUTHENTICATED', errors: [{ reason }] },
    });
  });

  it('is refused (access) for an app the service account may not see', async () => {
    const error = await failure(clientFor().getSubscription('com.example.other', 'token-1'));

    expect(error).toBeInstanceOf(PlayApiAccessError);
    expect(error).toMatchObject({ httpStatus: 401, reason: 'permissionDenied', retryable: true });
  });

  it('retries what Google could not answer, then succeeds', async () => {
    fake.putSubscription('token-1', subscription());
    fake.putProduct(COINS, 'token-3', product());
    const client = clientFor();

    fake.failNextRequests(2, 503);
    expect(await client.getSubscription(PACKAGE, 'token-1')).toEqual(subscription());
    fake.failNextRequests(1, 503);
    await client.acknowledgeProduct(PACKAGE, COINS, 'token-3');

    expect(apiRequests()).toEqual([
      ...Array(3).fill(`GET ${purchases}/subscriptionsv2/tokens/token-1`),
      ...Array(2).fill(`POST ${purchases}/products/${COINS}/tokens/token-3:acknowledge`),
    ]);
    expect(fake.acknowledgements).toHaveLength(1);
  });

  it('gives up on an answer that does not come in time, and asks again', async () => {
    fake.putSubscription('token-1', subscription());
    fake.stallNextRequests(1);

    expect(await clientFor({ timeoutMs: 300 }).getSubscription(PACKAGE, 'token-1')).toEqual(subscription());
    expect(apiRequests()).toHaveLength(2);
  });

  it.each([503, 500, 429, 409])('reports HTTP %i that outlasts the retries as unavailable', async (status) => {
    fake.putSubscription('token-1', subscription());
    fake.failNextRequests(2, status);

    const error = await failure(clientFor({ retries: 1 }).getSubscription(PACKAGE, 'token-1'));

    expect(error).toBeInstanceOf(PlayApiUnavailableError);
    expect(error).toMatchObject({ httpStatus: status, retryable: true });
    expect(apiRequests()).toHaveLength(2);
  });

  it('reports a Google it cannot reach as unavailable', async () => {
    const error = await failure(
      clientFor({ rootUrl: `http://127.0.0.1:${await freePort()}/`, retries: 1 }).getSubscription(PACKAGE, 'token-1'),
    );

    expect(error).toBeInstanceOf(PlayApiUnavailableError);
    expect(error).toMatchObject({ httpStatus: undefined, retryable: true });
  });

  it('reports an unknown purchase token as refused, not worth retrying', async () => {
    const error = await failure(clientFor().getSubscription(PACKAGE, 'no-such-token'));

    expect(error).toBeInstanceOf(PlayPurchaseRefusedError);
    expect(error).toMatchObject({ httpStatus: 400, reason: 'invalid', retryable: false });
    expect(apiRequests()).toHaveLength(1);
  });

  it.each([
    [404, 'purchaseTokenNotFound'],
    [410, 'purchaseTokenNoLongerValid'],
  ])('reports HTTP %i (%s) as refused, at once', async (status, reason) => {
    fake.failNextRequests(1, status);

    const error = await failure(clientFor().getProduct(PACKAGE, COINS, 'token-3'));

    expect(error).toBeInstanceOf(PlayPurchaseRefusedError);
    expect(error).toMatchObject({ httpStatus: status, reason, retryable: false });
    expect(apiRequests()).toHaveLength(1);
  });
});
