import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ReceiptRejection,
  verifyAppleReceipt,
  type ReceiptVerifierOptions,
} from '../../src/ingest/apple/verify-receipt.ts';
import { translateAppleReceipt } from '../../src/ingest/apple/translate-receipt.ts';
import {
  receiptResponse,
  receiptTransaction,
  startFakeVerifyReceipt,
  type FakeVerifyReceipt,
} from '../support/fake-verify-receipt.ts';
import { freePort } from '../support/free-port.ts';

const BUNDLE = 'com.example.pulse';
const SECRET = 'app-specific-shared-secret';
const MONTHLY = 'com.example.pulse.premium.monthly';
const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00.000Z');

// Opaque stand-ins for the base64 app receipts apps send.
const PRODUCTION_RECEIPT = Buffer.from('production receipt').toString('base64');
const SANDBOX_RECEIPT = Buffer.from('sandbox receipt').toString('base64');
const OTHER_APP_RECEIPT = Buffer.from('receipt of another app').toString('base64');
const OUTAGE_RECEIPT = Buffer.from('receipt met by an Apple outage').toString('base64');

const subscription = (environment: 'Production' | 'Sandbox', bundleId = BUNDLE) =>
  receiptResponse({
    bundleId,
    environment,
    requestedAt: T0 + 40 * DAY,
    transactions: [
      receiptTransaction('1000000001', '1000000001', MONTHLY, T0, T0 + 30 * DAY),
      receiptTransaction('1000000002', '1000000001', MONTHLY, T0 + 30 * DAY, T0 + 60 * DAY),
    ],
  });

let apple: FakeVerifyReceipt;
let options: ReceiptVerifierOptions;

beforeAll(async () => {
  apple = await startFakeVerifyReceipt({ sharedSecret: SECRET });
  apple.register('production', PRODUCTION_RECEIPT, subscription('Production'));
  apple.register('sandbox', SANDBOX_RECEIPT, subscription('Sandbox'));
  apple.register('production', OTHER_APP_RECEIPT, subscription('Production', 'com.example.other'));
  apple.register('production', OUTAGE_RECEIPT, { status: 21105, 'is-retryable': true });
  options = { expectedBundleIds: [BUNDLE], sharedSecret: SECRET, urls: apple.urls, timeoutMs: 2_000 };
});
afterAll(() => apple.close());

async function rejectionOf(promise: Promise<unknown>): Promise<ReceiptRejection> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ReceiptRejection)) throw new Error(`expected a ReceiptRejection, got ${String(error)}`);
  return error;
}
const requestsDuring = async (run: () => Promise<unknown>) => {
  const before = apple.requests.length;
  await run().catch(() => undefined);
  return apple.requests.slice(before);
};

describe('verifying a legacy app receipt with verifyReceipt', () => {
  it('validates a production receipt at production only, with the shared secret and all transactions', async () => {
    let verified!: Awaited<ReturnType<typeof verifyAppleReceipt>>;
    const requests = await requestsDuring(
      async () => (verified = await verifyAppleReceipt(PRODUCTION_RECEIPT, options)),
    );

    expect(requests).toEqual([
      {
        environment: 'production',
        body: { 'receipt-data': PRODUCTION_RECEIPT, password: SECRET, 'exclude-old-transactions': false },
      },
    ]);
    expect(verified.environment).toBe('production');
    expect(verified.bundleId).toBe(BUNDLE);
    expect(JSON.parse(verified.rawResponse)).toEqual(subscription('Production'));
    // Apple lists each transaction in both in_app and latest_receipt_info: one purchase each.
    expect(verified.purchases.map((p) => p.transactionId)).toEqual(['1000000001', '1000000002']);
    expect(translateAppleReceipt(verified).map((p) => [p.key, p.facts.map((f) => f.type)])).toEqual([
      [
        { store: 'app_store', environment: 'production', purchaseId: '1000000001' },
        ['SubscriptionStarted', 'SubscriptionRenewed'],
      ],
    ]);
  });

  it('retries a sandbox receipt at sandbox when production answers 21007', async () => {
    let verified!: Awaited<ReturnType<typeof verifyAppleReceipt>>;
    const requests = await requestsDuring(async () => (verified = await verifyAppleReceipt(SANDBOX_RECEIPT, options)));

    expect(requests.map((r) => r.environment)).toEqual(['production', 'sandbox']);
    expect(requests[1]!.body).toEqual(requests[0]!.body);
    expect(verified.environment).toBe('sandbox');
    expect(verified.purchases).toHaveLength(2);
  });

  it('accepts status 21006, a valid receipt whose subscription expired, with its data', async () => {
    const receipt = Buffer.from('expired subscription').toString('base64');
    apple.register('production', receipt, { ...subscription('Production'), status: 21006 });
    const verified = await verifyAppleReceipt(receipt, options);
    expect(verified.status).toBe(21006);
    expect(verified.purchases).toHaveLength(2);
  });

  it('refuses, not retryably, when the shared secret is wrong (21004)', async () => {
    const rejection = await rejectionOf(verifyAppleReceipt(PRODUCTION_RECEIPT, { ...options, sharedSecret: 'stale' }));
    expect([rejection.code, rejection.appleStatus, rejection.retryable]).toEqual([
      'shared_secret_mismatch',
      21004,
      false,
    ]);
  });

  it('refuses a malformed receipt (21002) as invalid', async () => {
    const rejection = await rejectionOf(verifyAppleReceipt('bm90IGEgcmVjZWlwdA==', options));
    expect([rejection.code, rejection.appleStatus, rejection.retryable]).toEqual(['invalid_receipt', 21002, false]);
  });

  it('refuses a receipt of another app', async () => {
    const rejection = await rejectionOf(verifyAppleReceipt(OTHER_APP_RECEIPT, options));
    expect([rejection.code, rejection.retryable]).toEqual(['wrong_app', false]);
  });

  describe('Apple unavailable: retryable', () => {
    it('HTTP 503', async () => {
      apple.failNextRequest(503);
      const rejection = await rejectionOf(verifyAppleReceipt(PRODUCTION_RECEIPT, options));
      expect([rejection.code, rejection.retryable]).toEqual(['receipt_server_unavailable', true]);
      // The failure was for that request only.
      await expect(verifyAppleReceipt(PRODUCTION_RECEIPT, options)).resolves.toMatchObject({ status: 0 });
    });

    it('an internal data access error (21100-21199, is-retryable)', async () => {
      const rejection = await rejectionOf(verifyAppleReceipt(OUTAGE_RECEIPT, options));
      expect([rejection.code, rejection.appleStatus, rejection.retryable]).toEqual([
        'receipt_server_unavailable',
        21105,
        true,
      ]);
    });

    it('no answer within the timeout', async () => {
      apple.stallNextRequest();
      const rejection = await rejectionOf(verifyAppleReceipt(PRODUCTION_RECEIPT, { ...options, timeoutMs: 200 }));
      expect([rejection.code, rejection.retryable]).toEqual(['receipt_server_unavailable', true]);
    });

    it('nobody listening', async () => {
      const down = `http://127.0.0.1:${await freePort()}/verifyReceipt`;
      const rejection = await rejectionOf(
        verifyAppleReceipt(PRODUCTION_RECEIPT, { ...options, urls: { production: down, sandbox: down } }),
      );
      expect([rejection.code, rejection.retryable]).toEqual(['receipt_server_unavailable', true]);
    });
  });
});
