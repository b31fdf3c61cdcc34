import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAppleTestCa } from '../../src/dev/apple/test-signer.ts';
import { DAY, MONTHLY, signNotification, type NotificationSpec } from '../../src/dev/apple/test-notifications.ts';
import { startAppleHarness, type AppleHarness, type HttpAnswer } from '../support/apple-harness.ts';

/*
 * App Store Server Notifications V2 over real HTTP, signed by a test CA that the
 * service is configured to trust, verified by Apple's library, accepted durably,
 * processed by the intake worker, and visible as entitlements.
 */
let harness: AppleHarness;
// Within the test leaf certificate's validity (from yesterday): the verifier checks the chain at signedDate.
const T0 = Math.floor(Date.now() / 1000) * 1000;
const USER = '5c0ffee0-0000-4000-8000-000000000001';

beforeAll(async () => {
  harness = await startAppleHarness();
});
afterAll(() => harness?.stop());
beforeEach(() => harness.reset());

const post = (body: unknown, raw = false) => harness.post('/v1/webhooks/apple', body, { raw });
const notify = (spec: NotificationSpec) => harness.notify(spec);
const counts = () => harness.counts();
const processed = () => harness.processed();
const entitlementsOf = (appUserId: string, at: number) => harness.entitlementsOf(appUserId, at);

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
    const [event] = await harness.subledger.eventStore.readStream('purchase:app_store:sandbox:2000000812345678');
    expect(event!.metadata).toMatchObject({
      storeTime: new Date(T0).toISOString(),
      source: { kind: 'apple.notification.v2' },
    });
  });

  it('loses nothing when the process stops between acceptance and processing', async () => {
    await harness.subledger.intake.stop(); // as if the process died right after answering 200
    const accepted = await notify(initialBuy);
    expect(accepted).toMatchObject({ status: 200, body: { status: 'accepted' } });
    expect(await counts()).toEqual({ events: 0, queued: 1, documents: 1 });

    harness.subledger.intake.start(); // the next start picks the notification up from the queue
    await processed();
    expect(await entitlementsOf(USER, T0 + DAY)).toEqual([expect.objectContaining({ id: 'premium', active: true })]);
    const { rows } = await harness.db.pool.query(`SELECT state, attempts FROM intake_messages`);
    expect(rows).toEqual([{ state: 'done', attempts: 1 }]);
  });

  it('changes nothing when the same notification is delivered twice', async () => {
    const payload = await signNotification(harness.ca.signer, {
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
      ].map((spec) => signNotification(harness.ca.signer, spec)),
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

  it('counts every answer at /metrics, by outcome and reason', async () => {
    const counter = async (labels: string) => {
      const text = await (await fetch(`${harness.subledger.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`subledger_apple_notifications_total{${labels}}`));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const accepted = 'outcome="accepted",code=""';
    const forged = 'outcome="rejected",code="invalid_signature"';
    const before = { accepted: await counter(accepted), forged: await counter(forged) };
    await notify({ ...initialBuy, uuid: randomUUID() });
    const rogue = await createAppleTestCa({ name: 'Rogue' });
    await post({ signedPayload: await signNotification(rogue.signer, initialBuy) });
    expect(await counter(accepted)).toBe(before.accepted + 1);
    expect(await counter(forged)).toBe(before.forged + 1);
    const text = await (await fetch(`${harness.subledger.url}/metrics`)).text();
    expect(text).toMatch(
      /subledger_http_request_duration_seconds_count\{method="POST",route="\/v1\/webhooks\/apple",status="401"\} [1-9]/,
    );
  });

  describe('refuses, with a code, and records nothing', () => {
    async function refused(response: Promise<HttpAnswer>) {
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
      const plain = await harness.ca.issueSigner({ appleOid: false });
      const forged = await signNotification(plain, { type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0 });
      expect(await refused(post({ signedPayload: forged }))).toEqual({ status: 401, code: 'invalid_signature' });
    });

    it('a tampered payload', async () => {
      const [header, , signature] = (
        await signNotification(harness.ca.signer, { type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0 })
      ).split('.');
      const other = (await signNotification(harness.ca.signer, { type: 'REFUND', signedDate: T0 })).split('.')[1];
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

    it('a signed transaction without what Subledger reads, or with a date as text', async () => {
      const malformed = { status: 400, code: 'malformed_payload' };
      const buy = { type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: T0 };
      expect(await refused(notify({ ...buy, transaction: { purchaseDate: undefined } }))).toEqual(malformed);
      expect(await refused(notify({ ...buy, transaction: { expiresDate: '2026-02-01' } }))).toEqual(malformed);
      expect(await refused(notify({ ...buy, renewalInfo: { autoRenewStatus: 'on' } }))).toEqual(malformed);
    });

    it('an Xcode or LocalTesting notification (Apple’s library checks no signature for those)', async () => {
      const payload = await harness.ca.signer.sign({
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
