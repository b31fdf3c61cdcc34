import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { entitlementsAt } from '../../src/domain/entitlements.ts';
import { createAppleTestCa, type AppleTestCa } from '../../src/ingest/apple/test-signer.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { findCustomerPurchases } from '../../src/projections/entitlements/customer-purchases.ts';
import { startSubledger, type Subledger } from '../../src/runtime/subledger.ts';
import { DAY, MONTHLY, signNotification, type NotificationSpec } from '../support/apple-notifications.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/free-port.ts';

/*
 * App Store Server Notifications V2 over real HTTP, signed by a test CA that the
 * service is configured to trust, verified by Apple's library, accepted durably,
 * processed by the intake worker, and visible as entitlements.
 */
let db: TestDatabase;
let subledger: Subledger;
let ca: AppleTestCa;
let certDir: string;
// Within the test leaf certificate's validity (from yesterday): the verifier checks the chain at signedDate.
const T0 = Math.floor(Date.now() / 1000) * 1000;
const USER = '5c0ffee0-0000-4000-8000-000000000001';

beforeAll(async () => {
  ca = await createAppleTestCa({ name: 'Subledger test' });
  certDir = await mkdtemp(path.join(tmpdir(), 'subledger-apple-'));
  await writeFile(path.join(certDir, 'root.pem'), ca.rootPem);
  db = await createTestDatabase({ migrated: false });
  subledger = await startSubledger(
    loadConfig({
      DATABASE_URL: db.url,
      PORT: String(await freePort()),
      APPLE_TRUSTED_ROOTS: path.join(certDir, 'root.pem'),
      PROJECTION_IDLE_POLL_MS: '20',
    }),
    silentLogger,
  );
});
afterAll(async () => {
  await subledger?.stop();
  await db.drop();
  await rm(certDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await db.pool.query('TRUNCATE events, purchases, intake_messages, source_documents, projection_checkpoints');
});

async function post(body: unknown, raw = false) {
  const response = await fetch(`${subledger.url}/v1/webhooks/apple`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: (await response.json()) as Record<string, unknown>,
  };
}
const notify = async (spec: NotificationSpec) => post({ signedPayload: await signNotification(ca.signer, spec) });
const counts = async () =>
  (
    await db.pool.query(
      `SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM intake_messages) AS queued,
              (SELECT count(*)::int FROM source_documents) AS documents`,
    )
  ).rows[0];
async function entitlementsOf(appUserId: string, at: number) {
  return entitlementsAt(await findCustomerPurchases(db.pool, appUserId), subledger.catalog, new Date(at).toISOString())
    .entitlements;
}
async function processed() {
  await eventually(
    () => subledger.queue.depth(),
    (depth) => depth === 0,
  );
  const head = await subledger.eventStore.headPosition();
  expect(await subledger.purchases.waitFor(head, 10_000)).toBe(true);
}

/** The user's first purchase, with the app account token that links it to them. */
const initialBuy: NotificationSpec = {
  type: 'SUBSCRIBED',
  subtype: 'INITIAL_BUY',
  signedDate: T0,
  transaction: { appAccountToken: USER },
};

describe('POST /v1/webhooks/apple', () => {
  it('accepts a verified notification durably and turns it into an entitlement', async () => {
    const accepted = await notify(initialBuy);
    expect(accepted).toMatchObject({ status: 200, body: { status: 'accepted' } });
    await processed();
    expect(await entitlementsOf(USER, T0 + DAY)).toEqual([
      expect.objectContaining({ id: 'premium', active: true, productId: 'premium_monthly', storeProductId: MONTHLY }),
    ]);
    const [event] = await subledger.eventStore.readStream('purchase:app_store:sandbox:2000000812345678');
    expect(event!.metadata).toMatchObject({
      storeTime: new Date(T0).toISOString(),
      source: { kind: 'apple.notification.v2' },
    });
  });

  it('loses nothing when the process stops between acceptance and processing', async () => {
    await subledger.intake.stop(); // as if the process died right after answering 200
    const accepted = await notify(initialBuy);
    expect(accepted).toMatchObject({ status: 200, body: { status: 'accepted' } });
    expect(await counts()).toEqual({ events: 0, queued: 1, documents: 1 });

    subledger.intake.start(); // the next start picks the notification up from the queue
    await processed();
    expect(await entitlementsOf(USER, T0 + DAY)).toEqual([expect.objectContaining({ id: 'premium', active: true })]);
    const { rows } = await db.pool.query(`SELECT state, attempts FROM intake_messages`);
    expect(rows).toEqual([{ state: 'done', attempts: 1 }]);
  });

  it('changes nothing when the same notification is delivered twice', async () => {
    const payload = await signNotification(ca.signer, {
      type: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      signedDate: T0,
      uuid: randomUUID(),
    });
    expect((await post({ signedPayload: payload })).body).toMatchObject({ status: 'accepted' });
    await processed();
    const before = await counts();
    expect((await post({ signedPayload: payload })).body).toMatchObject({ status: 'duplicate' });
    await processed();
    expect(await counts()).toEqual(before);
  });

  it('ends up with the same entitlements whatever order and however often notifications arrive', async () => {
    const renewal = (n: number) => ({
      transactionId: `20000008123456${70 + n}`,
      purchaseDate: T0 + n * 30 * DAY,
      expiresDate: T0 + (n + 1) * 30 * DAY,
      appAccountToken: USER,
    });
    const lifecycle = await Promise.all(
      [
        { type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, transaction: { appAccountToken: USER } },
        { type: 'DID_RENEW', signedDate: T0 + 30 * DAY, transaction: renewal(1) },
        { type: 'DID_RENEW', signedDate: T0 + 60 * DAY, transaction: renewal(2) },
        {
          type: 'DID_CHANGE_RENEWAL_STATUS',
          subtype: 'AUTO_RENEW_DISABLED',
          signedDate: T0 + 70 * DAY,
          transaction: renewal(2),
          renewalInfo: { autoRenewStatus: 0 },
        },
        {
          type: 'REFUND',
          signedDate: T0 + 75 * DAY,
          transaction: { ...renewal(2), revocationDate: T0 + 75 * DAY, revocationReason: 0 },
        },
      ].map((spec) => signNotification(ca.signer, spec)),
    );
    const shuffled = [lifecycle[4], lifecycle[1], lifecycle[4], lifecycle[3], lifecycle[0], lifecycle[2], lifecycle[1]];
    for (const signedPayload of shuffled) expect((await post({ signedPayload })).status).toBe(200);
    await processed();
    const [premium] = await entitlementsOf(USER, T0 + 80 * DAY);
    // Refunded from day 75, auto-renew off: no access, as in the in-order history.
    expect(premium).toMatchObject({
      active: false,
      revokedAt: new Date(T0 + 75 * DAY).toISOString(),
      willRenew: false,
    });
    expect(await entitlementsOf(USER, T0 + 65 * DAY)).toEqual([expect.objectContaining({ active: true })]);
  });

  describe('refuses, with a code, and records nothing', () => {
    async function refused(response: Promise<{ status: number; type: string | null; body: Record<string, unknown> }>) {
      const answer = await response;
      expect(answer.type).toContain('application/problem+json');
      expect(await counts()).toEqual({ events: 0, queued: 0, documents: 0 });
      return { status: answer.status, code: answer.body.code };
    }

    it('a notification signed by another CA', async () => {
      const rogue = await createAppleTestCa({ name: 'Rogue' });
      const forged = await signNotification(rogue.signer, {
        type: 'SUBSCRIBED',
        subtype: 'INITIAL_BUY',
        signedDate: T0,
      });
      expect(await refused(post({ signedPayload: forged }))).toEqual({ status: 401, code: 'invalid_signature' });
    });

    it('a leaf certificate without Apple’s marker', async () => {
      const plain = await ca.issueSigner({ appleOid: false });
      const forged = await signNotification(plain, { type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0 });
      expect(await refused(post({ signedPayload: forged }))).toEqual({ status: 401, code: 'invalid_signature' });
    });

    it('a tampered payload', async () => {
      const [header, , signature] = (
        await signNotification(ca.signer, { type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0 })
      ).split('.');
      const other = (await signNotification(ca.signer, { type: 'REFUND', signedDate: T0 })).split('.')[1];
      expect(await refused(post({ signedPayload: `${header}.${other}.${signature}` }))).toEqual({
        status: 401,
        code: 'invalid_signature',
      });
    });

    it('an app the catalog does not know', async () => {
      expect(
        await refused(
          notify({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0, bundleId: 'com.example.other' }),
        ),
      ).toEqual({
        status: 422,
        code: 'unknown_app',
      });
    });

    it('a transaction from the other environment than its notification', async () => {
      expect(
        await refused(
          notify({
            type: 'SUBSCRIBED',
            subtype: 'INITIAL_BUY',
            signedDate: T0,
            transaction: { environment: 'Production' },
          }),
        ),
      ).toEqual({ status: 422, code: 'wrong_environment' });
    });

    it('an Xcode or LocalTesting notification (Apple’s library checks no signature for those)', async () => {
      const payload = await ca.signer.sign({
        notificationType: 'TEST',
        notificationUUID: randomUUID(),
        signedDate: T0,
        data: { bundleId: 'com.example.pulse', environment: 'Xcode' },
      });
      expect(await refused(post({ signedPayload: payload }))).toEqual({ status: 422, code: 'unsupported_environment' });
    });

    it('malformed JSON, a missing field, something that is not a JWS', async () => {
      expect(await refused(post('{"signedPayload": ', true))).toEqual({ status: 400, code: 'malformed_request' });
      expect(await refused(post({ payload: 'x' }))).toEqual({ status: 400, code: 'malformed_request' });
      expect(await refused(post({ signedPayload: 'not-a-jws' }))).toEqual({ status: 400, code: 'malformed_payload' });
    });

    it('a body over the limit', async () => {
      expect(await refused(post({ signedPayload: 'x'.repeat(70_000) }))).toEqual({
        status: 413,
        code: 'body_too_large',
      });
    });
  });
});
