import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pushBody, startTestPushSigner, type TestPushSigner } from '../../src/dev/google/test-push.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';

/*
 * The Google Play webhook over real HTTP: Pub/Sub pushes with OIDC tokens from a
 * test signer whose JWKS Subledger fetches over loopback, as it would Google's.
 * These check acceptance only (INTAKE_WORKER=off keeps what was accepted in the queue).
 */
const AUDIENCE = 'https://subledger.test/v1/webhooks/google';
const PUSHER = 'play-push@subledger-test.iam.gserviceaccount.com';
const PACKAGE = 'com.example.pulse';

let signer: TestPushSigner;
let harness: AppleHarness;
beforeAll(async () => {
  signer = await startTestPushSigner({ audience: AUDIENCE, email: PUSHER });
  harness = await startAppleHarness({
    INTAKE_WORKER: 'off',
    GOOGLE_PUSH_AUDIENCE: AUDIENCE,
    GOOGLE_PUSH_SERVICE_ACCOUNT: PUSHER,
    GOOGLE_OIDC_JWKS_URL: signer.jwksUrl,
  });
});
afterAll(async () => {
  await harness?.stop();
  await signer?.close();
});
beforeEach(() => harness.reset());

const renewal = (purchaseToken = 'token-1', packageName = PACKAGE) => ({
  version: '1.0',
  packageName,
  eventTimeMillis: String(Date.now()),
  subscriptionNotification: { version: '1.0', notificationType: 2, purchaseToken, subscriptionId: 'premium_monthly' },
});

async function push(body: unknown, token?: string | null) {
  const authorization = token === null ? undefined : `Bearer ${token ?? (await signer.token())}`;
  const response = await fetch(`${harness.subledger.url}/v1/webhooks/google`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const answer = (await response.json()) as Record<string, unknown>;
  return { status: response.status, type: response.headers.get('content-type'), code: answer.code, body: answer };
}

describe('POST /v1/webhooks/google', () => {
  it('accepts a push from our subscription durably, once per message id, keeping Google’s data verbatim', async () => {
    const body = pushBody(renewal());
    expect(await push(body)).toMatchObject({
      status: 200,
      body: { status: 'accepted', messageId: body.message.messageId },
    });
    expect(await push(body)).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect(await harness.counts()).toEqual({ events: 0, queued: 1, documents: 1 });
    const { rows } = await harness.db.pool.query(`SELECT kind, body FROM source_documents`);
    expect(rows[0].kind).toBe('google.rtdn');
    expect(JSON.parse(rows[0].body)).toMatchObject({ messageId: body.message.messageId, data: body.message.data });
  });

  it('takes either spelling of the message id', async () => {
    const { message } = pushBody(renewal('token-2'));
    const snakeOnly = { message: { data: message.data, message_id: 'm-snake', publish_time: message.publish_time } };
    expect(await push(snakeOnly)).toMatchObject({ status: 200, body: { status: 'accepted', messageId: 'm-snake' } });
  });

  describe('refuses, with a code, and records nothing', () => {
    const refused = async (answer: Promise<Awaited<ReturnType<typeof push>>>) => {
      const { status, code, type } = await answer;
      expect(type).toContain('application/problem+json');
      expect(await harness.counts()).toEqual({ events: 0, queued: 0, documents: 0 });
      return { status, code };
    };
    const now = () => Math.floor(Date.now() / 1000);

    it('a push without a token, or with an expired one', async () => {
      expect(await refused(push(pushBody(renewal()), null))).toEqual({ status: 401, code: 'push_unauthenticated' });
      const expired = await signer.token({ expiresAt: now() - 60 });
      expect(await refused(push(pushBody(renewal()), expired))).toEqual({ status: 401, code: 'push_token_expired' });
    });

    it('a push without a valid token, from its headers alone, before its body has arrived', async () => {
      // 60,000 bytes announced (within the limit), 7 sent: a stranger's body is never waited for, nor read.
      const { port } = new URL(harness.subledger.url);
      const socket = connect(Number(port), '127.0.0.1');
      socket.write(
        'POST /v1/webhooks/google HTTP/1.1\r\nHost: subledger.test\r\nContent-Type: application/json\r\n' +
          'Authorization: Bearer junk\r\nContent-Length: 60000\r\n\r\n{"messa',
      );
      // Waiting for the body would leave the socket silent until the request timeout.
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer while the body was still on its way')));
      const [answer] = (await once(socket.setEncoding('utf8'), 'data').finally(() => socket.destroy())) as [string];
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
      expect(answer).toContain('"code":"push_token_invalid"');
      expect(await harness.counts()).toEqual({ events: 0, queued: 0, documents: 0 });
    });

    it('a token for another audience, from another issuer, or signed by another key', async () => {
      const invalid = { status: 401, code: 'push_token_invalid' };
      const otherAudience = await signer.token({ audience: 'https://elsewhere.test/push' });
      expect(await refused(push(pushBody(renewal()), otherAudience))).toEqual(invalid);
      const otherIssuer = await signer.token({ issuer: 'https://accounts.example.com' });
      expect(await refused(push(pushBody(renewal()), otherIssuer))).toEqual(invalid);
      const forger = await startTestPushSigner({ audience: AUDIENCE, email: PUSHER });
      try {
        expect(await refused(push(pushBody(renewal()), await forger.token()))).toEqual(invalid);
      } finally {
        await forger.close();
      }
    });

    it('a token of another service account, or one whose email is not verified', async () => {
      const wrongSender = { status: 403, code: 'push_wrong_sender' };
      const other = await signer.token({ email: 'someone@else.iam.gserviceaccount.com' });
      expect(await refused(push(pushBody(renewal()), other))).toEqual(wrongSender);
      const unverified = await signer.token({ emailVerified: false });
      expect(await refused(push(pushBody(renewal()), unverified))).toEqual(wrongSender);
    });

    it('a body that is not a push, and data that is not a developer notification', async () => {
      expect(await refused(push('not json'))).toEqual({ status: 400, code: 'malformed_request' });
      expect(await refused(push({ message: { data: 'e30=' } }))).toEqual({ status: 400, code: 'malformed_request' });
      const garbage = { message: { data: 'bm90IGpzb24=', messageId: 'm-1' } }; // "not json"
      expect(await refused(push(garbage))).toEqual({ status: 422, code: 'malformed_notification' });
      const noKind = { version: '1.0', packageName: PACKAGE, eventTimeMillis: String(Date.now()) };
      expect(await refused(push(pushBody(noKind)))).toEqual({ status: 422, code: 'malformed_notification' });
    });

    it('a notification for a package the catalog does not know', async () => {
      const other = pushBody(renewal('token-3', 'com.example.unknown'));
      expect(await refused(push(other))).toEqual({ status: 422, code: 'unknown_package' });
    });
  });
});

describe('POST /v1/webhooks/google without a push subscription configured', () => {
  it('refuses every push with 503, so Pub/Sub keeps it', async () => {
    const unconfigured = await startAppleHarness({ INTAKE_WORKER: 'off' });
    try {
      const response = await fetch(`${unconfigured.subledger.url}/v1/webhooks/google`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await signer.token()}` },
        body: JSON.stringify(pushBody(renewal())),
      });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ code: 'google_push_not_configured' });
      expect(await unconfigured.counts()).toEqual({ events: 0, queued: 0, documents: 0 });
    } finally {
      await unconfigured.stop();
    }
  });
});
