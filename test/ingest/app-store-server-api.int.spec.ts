import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AppStoreServerApi,
  AppStoreServerApiError,
  type AppStoreServerApiOptions,
} from '../../src/ingest/apple/app-store-server-api.ts';
import { createAppleTestCa, type AppleTestCa } from '../../src/dev/apple/test-signer.ts';
import { BUNDLE_ID, DAY, MONTHLY, signNotification } from '../../src/dev/apple/test-notifications.ts';
import { startFakeAppStoreServerApi, type FakeAppStoreServerApi } from '../support/fake-app-store-server-api.ts';

const KEY_ID = 'TESTKEY123';
const ISSUER_ID = '57246542-96fe-1a63-e053-0824d011072a';
const START = Date.parse('2026-01-01T00:00:00Z');

const apiKey = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicKey, pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
};

/** The error the call failed with; fails the test if it succeeded. */
async function failure(call: Promise<unknown>): Promise<AppStoreServerApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppStoreServerApiError);
  return error as AppStoreServerApiError;
}

describe('App Store Server API client, against a fake App Store over HTTP', () => {
  let ca: AppleTestCa;
  let key: ReturnType<typeof apiKey>;
  let fake: FakeAppStoreServerApi;

  const clientFor = (overrides: Partial<AppStoreServerApiOptions> = {}) =>
    new AppStoreServerApi({
      signingKey: key.pem,
      keyId: KEY_ID,
      issuerId: ISSUER_ID,
      bundleId: BUNDLE_ID,
      environment: 'Sandbox',
      baseUrl: fake.url,
      ...overrides,
    });

  /** The signed transactions of a monthly subscription that renewed `count - 1` times. */
  const renewals = (originalTransactionId: string, count: number, productId = MONTHLY) =>
    Promise.all(
      Array.from({ length: count }, (_, i) =>
        ca.signer.sign({
          transactionId: i === 0 ? originalTransactionId : `${originalTransactionId}${i}`,
          originalTransactionId,
          bundleId: BUNDLE_ID,
          productId,
          purchaseDate: START + i * 30 * DAY,
          expiresDate: START + (i + 1) * 30 * DAY,
          type: 'Auto-Renewable Subscription',
          signedDate: START + i * 30 * DAY,
          environment: 'Sandbox',
        }),
      ),
    );
  const renewalInfo = (originalTransactionId: string, productId = MONTHLY) =>
    ca.signer.sign({ originalTransactionId, productId, autoRenewStatus: 1, signedDate: START, environment: 'Sandbox' });

  beforeAll(async () => {
    ca = await createAppleTestCa();
    key = apiKey();
  });
  beforeEach(async () => {
    fake = await startFakeAppStoreServerApi({
      publicKey: key.publicKey,
      keyId: KEY_ID,
      issuerId: ISSUER_ID,
      bundleId: BUNDLE_ID,
      pageSize: 2,
    });
  });
  afterEach(() => fake.close());

  it('gets the latest signed transaction and renewal info of each of the customer’s subscriptions', async () => {
    const [monthly, yearly] = [await renewals('2000000000000001', 3), await renewals('2000000000000002', 1)];
    const [monthlyRenewal, yearlyRenewal] = [
      await renewalInfo('2000000000000001'),
      await renewalInfo('2000000000000002'),
    ];
    const customer = 'customer-1';
    fake.putSubscription({
      originalTransactionId: '2000000000000001',
      customer,
      signedTransactions: monthly,
      signedRenewalInfo: monthlyRenewal,
      status: 1,
    });
    fake.putSubscription({
      originalTransactionId: '2000000000000002',
      customer,
      subscriptionGroupIdentifier: '21000002',
      signedTransactions: yearly,
      signedRenewalInfo: yearlyRenewal,
      status: 2,
    });

    // Any of the customer's transaction ids will do, a renewal's included.
    const statuses = await clientFor().subscriptionStatuses('20000000000000012');

    expect(statuses).toEqual([
      {
        originalTransactionId: '2000000000000001',
        status: 1,
        signedTransactionInfo: monthly[2],
        signedRenewalInfo: monthlyRenewal,
      },
      {
        originalTransactionId: '2000000000000002',
        status: 2,
        signedTransactionInfo: yearly[0],
        signedRenewalInfo: yearlyRenewal,
      },
    ]);
    expect(fake.requests).toEqual([{ method: 'GET', path: '/inApps/v1/subscriptions/20000000000000012', query: {} }]);
  });

  it('follows the transaction history’s revisions until Apple has no more', async () => {
    const transactions = await renewals('2000000000000003', 5);
    fake.putSubscription({
      originalTransactionId: '2000000000000003',
      signedTransactions: transactions,
      signedRenewalInfo: await renewalInfo('2000000000000003'),
      status: 1,
    });

    expect(await clientFor().transactionHistory('2000000000000003')).toEqual(transactions);
    // Pages of 2: three requests, each after the first naming the revision the one before returned.
    expect(fake.requests.map((r) => [r.method, r.path, r.query.revision !== undefined])).toEqual([
      ['GET', '/inApps/v2/history/2000000000000003', false],
      ['GET', '/inApps/v2/history/2000000000000003', true],
      ['GET', '/inApps/v2/history/2000000000000003', true],
    ]);
  });

  it('gets the notifications sent within the window, across pages', async () => {
    const sentAt = [START - 1, START, START + DAY, START + 2 * DAY, START + 3 * DAY];
    const payloads = await Promise.all(
      sentAt.map((signedDate) => signNotification(ca.signer, { type: 'DID_RENEW', signedDate })),
    );
    // Added out of order: Apple answers in the order it sent them.
    for (const i of [3, 0, 4, 2, 1])
      fake.addNotification({ signedPayload: payloads[i]!, sentAt: new Date(sentAt[i]!) });

    const window = { startDate: new Date(START), endDate: new Date(START + 3 * DAY) };
    expect(await clientFor().notificationHistory(window)).toEqual(payloads.slice(1, 4));
    expect(fake.requests.map((r) => [r.method, r.path, r.query.paginationToken !== undefined])).toEqual([
      ['POST', '/inApps/v1/notifications/history', false],
      ['POST', '/inApps/v1/notifications/history', true],
    ]);
  });

  it.each([
    ['another signing key', () => ({ signingKey: apiKey().pem })],
    ['another key id', () => ({ keyId: 'OTHERKEY99' })],
    ['another issuer', () => ({ issuerId: '00000000-0000-0000-0000-000000000000' })],
    ['another bundle id', () => ({ bundleId: 'com.example.other' })],
  ])('is refused (401, not worth retrying) when its token has %s', async (_, overrides) => {
    const error = await failure(clientFor(overrides()).subscriptionStatuses('2000000000000001'));

    expect(error).toMatchObject({ httpStatus: 401, apiErrorCode: undefined, retryable: false });
  });

  it('reports an unknown transaction as Apple’s TransactionIdNotFoundError, not worth retrying', async () => {
    const error = await failure(clientFor().transactionHistory('2000000099999999'));

    expect(error).toMatchObject({ httpStatus: 404, apiErrorCode: 4040010, retryable: false });
  });

  it.each([
    ['HTTP 500', 500, undefined],
    ['HTTP 429', 429, undefined],
    ['OriginalTransactionIdNotFoundRetryableError', 404, 4040006],
  ])('marks %s as worth retrying; the retry then succeeds', async (_, status, errorCode) => {
    const transactions = await renewals('2000000000000004', 1);
    fake.putSubscription({
      originalTransactionId: '2000000000000004',
      signedTransactions: transactions,
      signedRenewalInfo: await renewalInfo('2000000000000004'),
      status: 1,
    });
    fake.failNextRequests(1, status, errorCode);
    const client = clientFor();

    const error = await failure(client.transactionHistory('2000000000000004'));
    expect(error).toMatchObject({ httpStatus: status, retryable: true });

    expect(await client.transactionHistory('2000000000000004')).toEqual(transactions);
  });
});
