import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LapsedSubscriptionRecheck } from '../../src/ingest/apple/recheck-lapsed.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { eventually } from '../support/eventually.ts';
import {
  BUNDLE_ID,
  DAY,
  MONTHLY,
  renewalInfoPayload,
  signNotification,
  transactionPayload,
} from '../../src/dev/apple/test-notifications.ts';
import { startFakeAppStoreServerApi, type FakeAppStoreServerApi } from '../support/fake-app-store-server-api.ts';
import { receiptResponse, receiptTransaction, startFakeVerifyReceipt } from '../support/fake-verify-receipt.ts';
import type { FakeVerifyReceipt } from '../support/fake-verify-receipt.ts';

/*
 * Purchases apps submit (StoreKit 2 signed transactions, legacy receipts), restores
 * on another account, and reconciliation with a fake App Store Server API: all over
 * real HTTP, with signatures from a test CA the service trusts.
 */
const VAULT_BUNDLE_ID = 'com.example.vault';
const SHARED_SECRET = 'test-shared-secret';
const NOW = Math.floor(Date.now() / 1000) * 1000;

let harness: AppleHarness;
let appleApi: FakeAppStoreServerApi;
let verifyReceipt: FakeVerifyReceipt;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'subledger-purchases-'));
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(path.join(dir, 'key.p8'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
  appleApi = await startFakeAppStoreServerApi({
    publicKey,
    keyId: 'KEY123',
    issuerId: 'issuer-1',
    bundleId: BUNDLE_ID,
    otherBundleIds: [VAULT_BUNDLE_ID],
  });
  verifyReceipt = await startFakeVerifyReceipt({ sharedSecret: SHARED_SECRET });
  // The sample catalog, plus an app that keeps purchases with their owner on restore.
  const catalog = JSON.parse(await readFile('catalog/sample-fitness.json', 'utf8'));
  catalog.apps.push({ id: 'vault', name: 'Vault', appStore: { bundleId: VAULT_BUNDLE_ID }, restoreBehavior: 'keep' });
  catalog.products.push({
    id: 'vault_lifetime',
    appId: 'vault',
    type: 'non_consumable',
    storeProductIds: { app_store: 'com.example.vault.lifetime' },
    entitlements: ['premium'],
  });
  await writeFile(path.join(dir, 'catalog.json'), JSON.stringify(catalog));
  harness = await startAppleHarness({
    CATALOG_PATH: path.join(dir, 'catalog.json'),
    APPLE_API_KEY_FILE: path.join(dir, 'key.p8'),
    APPLE_API_KEY_ID: 'KEY123',
    APPLE_API_ISSUER_ID: 'issuer-1',
    APPLE_API_URL: appleApi.url,
    APPLE_API_SANDBOX_URL: appleApi.url,
    APPLE_VERIFY_RECEIPT_URL: verifyReceipt.urls.production,
    APPLE_VERIFY_RECEIPT_SANDBOX_URL: verifyReceipt.urls.sandbox,
    APPLE_SHARED_SECRET: SHARED_SECRET,
    APPLE_RECHECK_INTERVAL_SECONDS: '0',
  });
});
afterAll(async () => {
  await harness?.stop();
  await appleApi?.close();
  await verifyReceipt?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => harness.reset());

let sequence = 0;
/** A new subscription's first period, bought `daysAgo`, signed; with the fake API told about it. */
async function newSubscription(options: { daysAgo?: number; renewalInfo?: Record<string, unknown> } = {}) {
  const originalTransactionId = `5000000${String(++sequence).padStart(9, '0')}`;
  // A minute before Apple signs the answers below, so those are the newer word.
  const bought = NOW - (options.daysAgo ?? 0) * DAY - 60_000;
  // Signed now, as Apple signs what it is asked for (and within the test certificates' validity).
  const transaction = transactionPayload(NOW, {
    originalTransactionId,
    transactionId: originalTransactionId,
    purchaseDate: bought,
    originalPurchaseDate: bought,
    expiresDate: bought + 30 * DAY,
  });
  const signedTransaction = await harness.ca.signer.sign(transaction);
  const renewalInfo = renewalInfoPayload(transaction, NOW, options.renewalInfo);
  appleApi.putSubscription({
    originalTransactionId,
    signedTransactions: [signedTransaction],
    signedRenewalInfo: await harness.ca.signer.sign(renewalInfo),
    status: 1,
  });
  return { originalTransactionId, transaction, signedTransaction };
}
const submit = (appUserId: string, body: unknown) =>
  harness.post(`/v1/customers/${encodeURIComponent(appUserId)}/purchases/apple`, body);
const premiumOf = (body: Record<string, unknown>) =>
  (body.entitlements as Record<string, Record<string, unknown>>).premium;
async function streamTypes(originalTransactionId: string) {
  const events = await harness.subledger.eventStore.readStream(`purchase:app_store:sandbox:${originalTransactionId}`);
  return events.map((e) => e.type);
}

describe('POST /v1/customers/{appUserId}/purchases/apple', () => {
  it('records a StoreKit 2 signed transaction, links it, reconciles it, and answers with the entitlements', async () => {
    // Apple knows more than the app sent: auto-renew was turned off since.
    const { originalTransactionId, signedTransaction } = await newSubscription({
      renewalInfo: { autoRenewStatus: 0 },
    });
    const answer = await submit('alice', { signedTransaction });
    expect(answer.status).toBe(200);
    expect(premiumOf(answer.body)).toMatchObject({
      active: true,
      store: 'app_store',
      environment: 'sandbox',
      purchaseId: originalTransactionId,
      productId: 'premium_monthly',
      storeProductId: MONTHLY,
      willRenew: false, // from the reconciliation, visible in this very answer
    });
    expect(appleApi.requests.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining([
        `GET /inApps/v1/subscriptions/${originalTransactionId}`,
        `GET /inApps/v2/history/${originalTransactionId}`,
      ]),
    );
    const [first] = await harness.subledger.eventStore.readStream(
      `purchase:app_store:sandbox:${originalTransactionId}`,
    );
    expect(first!.metadata.source).toMatchObject({ kind: 'apple.storekit2.transaction' });
    expect((await harness.get('/v1/customers/alice')).body.entitlements).toEqual(answer.body.entitlements);
  });

  it('lists subscriptions by product, one-time purchases, and when the customer was first and last seen', async () => {
    const { originalTransactionId, signedTransaction, transaction } = await newSubscription({ daysAgo: 10 });
    expect((await submit('dora', { signedTransaction })).status).toBe(200);
    const lifetime = transactionPayload(NOW, {
      productId: 'com.example.pulse.premium.lifetime',
      type: 'Non-Consumable',
      transactionId: '7000000000000001',
      originalTransactionId: '7000000000000001',
      purchaseDate: NOW - DAY,
      originalPurchaseDate: NOW - DAY,
      expiresDate: undefined,
    });
    const answer = await submit('dora', { signedTransaction: await harness.ca.signer.sign(lifetime) });
    expect(answer.status).toBe(200);
    const iso = (ms: unknown) => new Date(ms as number).toISOString();
    expect(answer.body).toMatchObject({
      appUserId: 'dora',
      firstSeen: iso(transaction.purchaseDate),
      subscriptions: {
        [MONTHLY]: {
          productId: 'premium_monthly',
          store: 'app_store',
          environment: 'sandbox',
          purchaseId: originalTransactionId,
          active: true,
          purchasedAt: iso(transaction.purchaseDate),
          originalPurchasedAt: iso(transaction.originalPurchaseDate),
          expiresAt: iso(transaction.expiresDate),
          willRenew: true,
          periodType: 'normal',
          ownership: 'purchased',
          billingIssueDetectedAt: null,
          gracePeriodExpiresAt: null,
          unsubscribeDetectedAt: null,
          revokedAt: null,
        },
      },
      oneTimePurchases: [
        {
          storeProductId: 'com.example.pulse.premium.lifetime',
          productId: 'premium_lifetime',
          store: 'app_store',
          environment: 'sandbox',
          purchaseId: '7000000000000001',
          purchasedAt: iso(NOW - DAY),
          revokedAt: null,
        },
      ],
    });
    // The newest word from Apple about any of them: the reconciliation's answers, signed as they were asked for.
    const lastSeen = Date.parse(answer.body.lastSeen as string);
    expect(lastSeen).toBeGreaterThanOrEqual(NOW);
    expect(lastSeen).toBeLessThanOrEqual(Date.now());
    // Lifetime access outlasts the subscription: it is the one the entitlement shows.
    expect(premiumOf(answer.body)).toMatchObject({ active: true, expiresAt: null, productId: 'premium_lifetime' });
    expect(Object.keys(answer.body.subscriptions as object)).toEqual([MONTHLY]);
  });

  it('moves a purchase restored on another account to it, for an app that transfers on restore', async () => {
    const { originalTransactionId, signedTransaction } = await newSubscription();
    expect((await submit('alice', { signedTransaction })).status).toBe(200);
    const restored = await submit('bob', { signedTransaction });
    expect(restored.status).toBe(200);
    expect(premiumOf(restored.body)).toMatchObject({ active: true });
    expect((await harness.get('/v1/customers/alice')).body.entitlements).toEqual({});
    const links = (
      await harness.subledger.eventStore.readStream(`purchase:app_store:sandbox:${originalTransactionId}`)
    ).filter((e) => e.type === 'PurchaseLinkedToAppUser');
    expect(links.map((e) => e.data)).toEqual([
      expect.objectContaining({ appUserId: 'alice', via: 'app_submission' }),
      expect.objectContaining({ appUserId: 'bob', via: 'restore_transfer', previousAppUserId: 'alice' }),
    ]);
  });

  it('keeps a purchase with its owner for an app that keeps on restore, refusing and recording the claim', async () => {
    const transaction = transactionPayload(NOW, {
      bundleId: VAULT_BUNDLE_ID,
      productId: 'com.example.vault.lifetime',
      type: 'Non-Consumable',
      transactionId: '6000000000000001',
      originalTransactionId: '6000000000000001',
      expiresDate: undefined,
    });
    const signedTransaction = await harness.ca.signer.sign(transaction);
    expect((await submit('alice', { signedTransaction })).status).toBe(200);
    const refused = await submit('bob', { signedTransaction });
    expect(refused).toMatchObject({ status: 409, body: { code: 'purchase_belongs_to_another_user' } });
    expect(premiumOf((await harness.get('/v1/customers/alice')).body)).toMatchObject({ active: true });
    expect((await harness.get('/v1/customers/bob')).body.entitlements).toEqual({});
    expect(await streamTypes('6000000000000001')).toContain('PurchaseClaimRefused');
  });

  it('records a legacy receipt, asking the sandbox when production says it is a sandbox receipt', async () => {
    verifyReceipt.register(
      'sandbox',
      'bGVnYWN5LXJlY2VpcHQ=',
      receiptResponse({
        bundleId: BUNDLE_ID,
        environment: 'Sandbox',
        requestedAt: NOW,
        transactions: [receiptTransaction('7000000000000001', '7000000000000001', MONTHLY, NOW - DAY, NOW + 29 * DAY)],
        pendingRenewalInfo: [
          {
            original_transaction_id: '7000000000000001',
            product_id: MONTHLY,
            auto_renew_product_id: MONTHLY,
            auto_renew_status: '1',
          },
        ],
      }),
    );
    const answer = await submit('carol', { receipt: 'bGVnYWN5LXJlY2VpcHQ=' });
    expect(answer.status).toBe(200);
    expect(premiumOf(answer.body)).toMatchObject({ active: true, willRenew: true, purchaseId: '7000000000000001' });
    expect(verifyReceipt.requests.map((r) => [r.environment, r.body.password])).toEqual([
      ['production', SHARED_SECRET],
      ['sandbox', SHARED_SECRET],
    ]);
    const { rows } = await harness.db.pool.query(`SELECT kind FROM source_documents`);
    expect(rows).toEqual([{ kind: 'apple.verify-receipt.response' }]);
  });

  describe('refuses, with a code, and records nothing', () => {
    async function refused(body: unknown) {
      const answer = await submit('mallory', body);
      expect(answer.type).toContain('application/problem+json');
      expect(await harness.counts()).toEqual({ events: 0, queued: 0, documents: 0 });
      return { status: answer.status, code: answer.body.code };
    }

    it('a transaction signed by another CA', async () => {
      const { createAppleTestCa } = await import('../../src/dev/apple/test-signer.ts');
      const rogue = await createAppleTestCa({ name: 'Rogue' });
      const forged = await rogue.signer.sign(transactionPayload(NOW));
      expect(await refused({ signedTransaction: forged })).toEqual({ status: 401, code: 'invalid_signature' });
    });

    it('a receipt Apple does not recognise', async () => {
      expect(await refused({ receipt: 'bm90LWEtcmVjZWlwdA==' })).toEqual({ status: 422, code: 'invalid_receipt' });
    });

    it('a body that is neither, or both', async () => {
      expect(await refused({})).toEqual({ status: 400, code: 'malformed_request' });
      expect(await refused({ signedTransaction: 'x', receipt: 'y' })).toEqual({
        status: 400,
        code: 'malformed_request',
      });
      expect(await refused({ signedTransaction: 'not-a-jws' })).toEqual({ status: 400, code: 'malformed_payload' });
    });
  });
});

describe('reconciliation with the App Store Server API', () => {
  it('re-checks a subscription that lapsed without a renewal notification, and finds the renewal', async () => {
    // Bought 31 days ago, auto-renewing: Apple renewed it, but the DID_RENEW notification was lost.
    const { originalTransactionId, signedTransaction, transaction } = await newSubscription({ daysAgo: 31 });
    expect((await submit('dave', { signedTransaction })).status).toBe(200);
    // Another lapsed the same way, and Apple has nothing new about it (its billing is failing, say).
    const stuck = await newSubscription({ daysAgo: 31 });
    expect((await submit('erin', { signedTransaction: stuck.signedTransaction })).status).toBe(200);
    expect(premiumOf((await harness.get('/v1/customers/dave')).body)).toMatchObject({ active: false });

    const renewal = transactionPayload(NOW - DAY, {
      originalTransactionId,
      transactionId: `${originalTransactionId}1`,
      purchaseDate: NOW - DAY,
      expiresDate: NOW + 29 * DAY,
    });
    appleApi.putSubscription({
      originalTransactionId,
      signedTransactions: [signedTransaction, await harness.ca.signer.sign(renewal)],
      signedRenewalInfo: await harness.ca.signer.sign(renewalInfoPayload(transaction, NOW)),
      status: 1,
    });
    const recheck = new LapsedSubscriptionRecheck({
      pool: harness.db.pool,
      reconciler: harness.subledger.reconciler!,
      logger: silentLogger,
      intervalMs: 60_000,
    });
    expect(await recheck.runOnce()).toEqual({ checked: 2, failed: 0 });
    await harness.processed();
    // Dave's cached customer is dropped when the read model's notice arrives.
    const dave = await eventually(
      async () => premiumOf((await harness.get('/v1/customers/dave')).body),
      (premium) => premium?.active === true,
    );
    expect(dave).toMatchObject({
      active: true,
      expiresAt: new Date(NOW + 29 * DAY).toISOString(),
    });
    expect(premiumOf((await harness.get('/v1/customers/erin')).body)).toMatchObject({ active: false });
    // Asked once per lapse: erin's is not asked about again.
    expect(await recheck.runOnce()).toEqual({ checked: 0, failed: 0 });
  });

  it('accepts the notifications Apple sent in a window, recognising those already received', async () => {
    const user = randomUUID();
    const payloads = await Promise.all(
      [0, 1].map((n) =>
        signNotification(harness.ca.signer, {
          type: 'SUBSCRIBED',
          subtype: 'INITIAL_BUY',
          signedDate: NOW,
          transaction: {
            originalTransactionId: `800000000000000${n}`,
            transactionId: `800000000000000${n}`,
            appAccountToken: user,
          },
        }),
      ),
    );
    // The first reached the webhook; the second was lost.
    expect((await harness.post('/v1/webhooks/apple', { signedPayload: payloads[0] })).status).toBe(200);
    for (const signedPayload of payloads) appleApi.addNotification({ signedPayload, sentAt: new Date(NOW) });
    const window = { startDate: new Date(NOW - DAY), endDate: new Date(NOW + DAY) };
    expect(await harness.subledger.reconciler!.reconcileNotifications(window, 'Sandbox')).toEqual({
      accepted: 1,
      duplicates: 1,
    });
    await harness.processed();
    const customer = (await harness.get(`/v1/customers/${user}`)).body;
    expect(premiumOf(customer)).toMatchObject({ active: true });
  });
});
