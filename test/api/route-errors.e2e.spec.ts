import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import {
  BUNDLE_ID,
  DAY,
  MONTHLY,
  signNotification,
  transactionPayload,
} from '../../src/dev/apple/test-notifications.ts';
import { ScopedTokens } from '../../src/tokens/scoped-tokens.ts';
import { TokenKeyRing } from '../../src/tokens/token-key-ring.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { createAppleOcspTestCa, type AppleOcspTestCa } from '../support/apple-ocsp-test-ca.ts';
import { anEntitlement } from '../support/entitlements.ts';
import { receiptResponse, receiptTransaction, startFakeVerifyReceipt } from '../support/fake-verify-receipt.ts';
import type { FakeVerifyReceipt } from '../support/fake-verify-receipt.ts';

/*
 * The error answers each route declares, with their codes, that no other test file
 * checks (each describe names the tests elsewhere that cover the rest): over real HTTP, against a running Subledger
 * whose app users sign in with a small identity provider (as in
 * authentication.e2e.spec.ts) and whose legacy receipts go to a fake verifyReceipt.
 * A second Subledger checks Apple's certificates online and refuses sandbox purchases.
 * Every refusal is application/problem+json with a stable code; a refused write changes nothing.
 */
const ISSUER = 'https://id.example.test/';
const AUDIENCE = 'pulse-api';
const NOW = Math.floor(Date.now() / 1000) * 1000;
const OTHER_BUNDLE_ID = 'com.example.other';

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let main: AppleHarness;
/** APPLE_ONLINE_CHECKS=on, APPLE_ACCEPT_SANDBOX=off, trusting only the OCSP test CA. */
let strict: AppleHarness;
let verifyReceipt: FakeVerifyReceipt;
let idp: Server;
let idpKey: SigningKey;
/** Answers every OCSP request 503, as when Apple's responder is down. */
let ocspResponder: Server;
let ocspRequests = 0;
let ocspCa: AppleOcspTestCa;
let dir: string;
let adminKey: string;
let serverKey: string;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  idpKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'ES256' };
  idp = createServer((_, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  ocspResponder = createServer((request, response) => {
    ocspRequests++;
    request.resume();
    response.writeHead(503).end();
  });
  await Promise.all([idp, ocspResponder].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
  verifyReceipt = await startFakeVerifyReceipt();
  ocspCa = await createAppleOcspTestCa(`http://127.0.0.1:${(ocspResponder.address() as AddressInfo).port}/ocsp`);
  dir = await mkdtemp(path.join(tmpdir(), 'subledger-route-errors-'));
  await writeFile(path.join(dir, 'ocsp-root.pem'), ocspCa.rootPem);
  const receipts = {
    APPLE_VERIFY_RECEIPT_URL: verifyReceipt.urls.production,
    APPLE_VERIFY_RECEIPT_SANDBOX_URL: verifyReceipt.urls.sandbox,
  };
  [main, strict] = await Promise.all([
    startAppleHarness({
      ...receipts,
      AUTH_ISSUER: ISSUER,
      AUTH_JWKS_URL: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`,
      AUTH_AUDIENCE: AUDIENCE,
    }),
    startAppleHarness({
      ...receipts,
      APPLE_TRUSTED_ROOTS: path.join(dir, 'ocsp-root.pem'),
      APPLE_ONLINE_CHECKS: 'on',
      APPLE_ACCEPT_SANDBOX: 'off',
    }),
  ]);
  const keys = new ApiKeys(main.db.pool);
  adminKey = (await keys.create('ops', 'admin')).secret;
  serverKey = (await keys.create('backend', 'app-server')).secret;
});
afterAll(async () => {
  await Promise.all([main?.stop(), strict?.stop(), verifyReceipt?.close()]);
  idp?.close();
  ocspResponder?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** An access token of the app's identity provider; `key` another than its own forges one. */
function userToken(sub: string, options: { expiresIn?: string | number; key?: SigningKey } = {}) {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(options.key ?? idpKey);
}

/** What a guard refuses with 401: no credential, an expired token, a forged one (signed by another key). */
async function refusedCredentials(sub: string) {
  const { privateKey } = await generateKeyPair('ES256');
  return [
    { credential: undefined, code: 'unauthenticated' },
    { credential: await userToken(sub, { expiresIn: Math.floor(Date.now() / 1000) - 10 }), code: 'token_expired' },
    { credential: await userToken(sub, { key: privateKey }), code: 'token_invalid' },
  ];
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown> | null;
}

async function call(
  harness: AppleHarness,
  method: string,
  pathname: string,
  options: { credential?: string | undefined; json?: unknown } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.credential) headers.authorization = `Bearer ${options.credential}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${harness.subledger.url}${pathname}`, {
    method,
    headers,
    ...(options.json !== undefined && { body: JSON.stringify(options.json) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

/** RFC 6750's challenge for each credential refusal: a token that was sent and failed says so. */
const CHALLENGE: Record<string, string> = {
  unauthenticated: 'Bearer',
  token_invalid: 'Bearer error="invalid_token"',
  token_expired: 'Bearer error="invalid_token", error_description="token expired"',
};
/** A problem details answer with this status and code (and, for a 401, a Bearer challenge). */
function expectProblem(answer: Answer, status: number, code: string) {
  expect({ status: answer.status, code: answer.body?.code }).toEqual({ status, code });
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ status, type: `https://subledger.dev/problems/${code}` });
  if (code in CHALLENGE) expect(answer.headers.get('www-authenticate')).toBe(CHALLENGE[code]);
}

/** The same JWS with the x5c chain cut to two certificates (Apple's chains have three). */
function withShortChain(jws: string): string {
  const [header, payload, signature] = jws.split('.');
  const { x5c } = JSON.parse(Buffer.from(header!, 'base64url').toString()) as { x5c: string[] };
  const shortHeader = Buffer.from(JSON.stringify({ alg: 'ES256', x5c: x5c.slice(0, 2) })).toString('base64url');
  return `${shortHeader}.${payload}.${signature}`;
}

let sequence = 0;
/** A new StoreKit 2 transaction of a monthly subscription, its fields over the defaults, unsigned. */
function aTransaction(fields: Record<string, unknown> = {}) {
  const id = `9100000${String(++sequence).padStart(9, '0')}`;
  return transactionPayload(NOW, { transactionId: id, originalTransactionId: id, ...fields });
}

/** A scoped token for `premium`, signed with the service's own key, that expired 45 minutes ago. */
async function expiredScopedToken(): Promise<string> {
  await main.subledger.tokens.issue('alice', []); // the service has its signing key
  const anHourAgo = { now: () => new Date(Date.now() - 3_600_000) };
  const past = new ScopedTokens(
    new TokenKeyRing(main.db.pool, { rotationMs: 7 * DAY, maxTokenLifetimeMs: 900_000, clock: anHourAgo }),
    { issuer: 'subledger', audience: 'subledger-content', maxLifetimeMs: 900_000, clock: anHourAgo },
  );
  return (await past.issue('alice', [anEntitlement()])).token;
}

describe('GET /v1/customers/{appUserId}', () => {
  // 401 and 403 (and 200): authentication.e2e.spec.ts "reaching a customer"; 429: rate-limit.e2e.spec.ts.
  // An id over 100 characters gets the router's 414 before validation (Fastify's maxParamLength): only an empty id is left.
  it('answers 400 malformed_request to an empty app user id', async () => {
    expectProblem(await call(main, 'GET', '/v1/customers/', { credential: serverKey }), 400, 'malformed_request');
  });
});

describe('POST /v1/customers/{appUserId}/purchases/apple', () => {
  const submit = (harness: AppleHarness, appUserId: string, json: unknown, credential?: string) =>
    call(harness, 'POST', `/v1/customers/${appUserId}/purchases/apple`, { json, credential });
  /** Runs `refusal` and checks it recorded nothing: no event, no queued message, no source document. */
  async function recordsNothing<T>(harness: AppleHarness, refusal: () => Promise<T>): Promise<T> {
    const before = await harness.counts();
    const result = await refusal();
    expect(await harness.counts()).toEqual(before);
    return result;
  }

  it('refuses a caller without a valid credential with 401 and its code, recording nothing', async () => {
    // A purchase the service would record for alice, were the caller let in.
    const signedTransaction = await main.ca.signer.sign(aTransaction());
    for (const { credential, code } of await refusedCredentials('alice')) {
      const answer = await recordsNothing(main, () => submit(main, 'alice', { signedTransaction }, credential));
      expectProblem(answer, 401, code);
    }
  });

  it('forbids an app user to submit a purchase for another user (403 forbidden), recording nothing', async () => {
    const signedTransaction = await main.ca.signer.sign(aTransaction());
    const answer = await recordsNothing(main, async () =>
      submit(main, 'alice', { signedTransaction }, await userToken('bob')),
    );
    expectProblem(answer, 403, 'forbidden');
    // The same submission by alice herself is accepted.
    expect((await submit(main, 'alice', { signedTransaction }, await userToken('alice'))).status).toBe(200);
  });

  it('refuses a transaction whose certificate chain is not Apple’s shape (401 invalid_certificate)', async () => {
    const signedTransaction = withShortChain(await main.ca.signer.sign(aTransaction()));
    const answer = await recordsNothing(main, () => submit(main, 'mallory', { signedTransaction }, serverKey));
    expectProblem(answer, 401, 'invalid_certificate');
  });

  it('refuses a body over 1 MB (413 body_too_large), recording nothing', async () => {
    const answer = await recordsNothing(main, () =>
      submit(main, 'mallory', { receipt: 'A'.repeat(1024 * 1024 + 1) }, serverKey),
    );
    expectProblem(answer, 413, 'body_too_large');
  });

  it('refuses a transaction of an app the catalog does not know (422 unknown_app)', async () => {
    const signedTransaction = await main.ca.signer.sign(aTransaction({ bundleId: OTHER_BUNDLE_ID }));
    const answer = await recordsNothing(main, () => submit(main, 'mallory', { signedTransaction }, serverKey));
    expectProblem(answer, 422, 'unknown_app');
  });

  it('refuses an Xcode transaction, which Apple’s library would not check (422 unsupported_environment)', async () => {
    const signedTransaction = await main.ca.signer.sign(aTransaction({ environment: 'Xcode' }));
    const answer = await recordsNothing(main, () => submit(main, 'mallory', { signedTransaction }, serverKey));
    expectProblem(answer, 422, 'unsupported_environment');
  });

  it('refuses a receipt of another app (422 wrong_app)', async () => {
    verifyReceipt.register(
      'production',
      'b3RoZXItYXBw',
      receiptResponse({
        bundleId: OTHER_BUNDLE_ID,
        environment: 'Production',
        requestedAt: NOW,
        transactions: [receiptTransaction('9200000000000001', '9200000000000001', MONTHLY, NOW - DAY, NOW + 29 * DAY)],
      }),
    );
    const answer = await recordsNothing(main, () => submit(main, 'mallory', { receipt: 'b3RoZXItYXBw' }, serverKey));
    expectProblem(answer, 422, 'wrong_app');
  });

  it('answers 502 shared_secret_mismatch when Apple says our shared secret is wrong (status 21004)', async () => {
    verifyReceipt.register('production', 'c2VjcmV0', { status: 21004 });
    const answer = await recordsNothing(main, () => submit(main, 'mallory', { receipt: 'c2VjcmV0' }, serverKey));
    expectProblem(answer, 502, 'shared_secret_mismatch');
  });

  it('answers 503 receipt_server_unavailable when verifyReceipt is down', async () => {
    verifyReceipt.failNextRequest(503);
    const answer = await recordsNothing(main, () => submit(main, 'mallory', { receipt: 'ZG93bg==' }, serverKey));
    expectProblem(answer, 503, 'receipt_server_unavailable');
  });

  it('answers 503 verification_unavailable when Apple’s OCSP responder is down (online checks)', async () => {
    const signedTransaction = await ocspCa.signer.sign(aTransaction());
    const asked = ocspRequests;
    const answer = await recordsNothing(strict, () =>
      strict.post(`/v1/customers/mallory/purchases/apple`, { signedTransaction }),
    );
    expect({ status: answer.status, code: answer.body.code, type: answer.type }).toEqual({
      status: 503,
      code: 'verification_unavailable',
      type: expect.stringMatching(/^application\/problem\+json/),
    });
    expect(ocspRequests).toBeGreaterThan(asked);
  });

  it('refuses a sandbox purchase where sandbox purchases are off (422 sandbox_not_accepted)', async () => {
    verifyReceipt.register(
      'sandbox',
      'c2FuZGJveA==',
      receiptResponse({
        bundleId: BUNDLE_ID,
        environment: 'Sandbox',
        requestedAt: NOW,
        transactions: [receiptTransaction('9300000000000001', '9300000000000001', MONTHLY, NOW - DAY, NOW + 29 * DAY)],
      }),
    );
    const answer = await recordsNothing(strict, () =>
      strict.post(`/v1/customers/mallory/purchases/apple`, { receipt: 'c2FuZGJveA==' }),
    );
    expect({ status: answer.status, code: answer.body.code, type: answer.type }).toEqual({
      status: 422,
      code: 'sandbox_not_accepted',
      type: expect.stringMatching(/^application\/problem\+json/),
    });
  });
});

describe('POST /v1/webhooks/apple', () => {
  const post = (harness: AppleHarness, signedPayload: string) => harness.post('/v1/webhooks/apple', { signedPayload });
  async function refused(harness: AppleHarness, signedPayload: string) {
    const before = await harness.counts();
    const answer = await post(harness, signedPayload);
    expect(await harness.counts()).toEqual(before);
    expect(answer.type).toMatch(/^application\/problem\+json/);
    return { status: answer.status, code: answer.body.code };
  }
  const initialBuy = { type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: NOW } as const;

  it('refuses a notification whose certificate chain is not Apple’s shape (401 invalid_certificate)', async () => {
    const payload = withShortChain(await signNotification(main.ca.signer, initialBuy));
    expect(await refused(main, payload)).toEqual({ status: 401, code: 'invalid_certificate' });
  });

  it('refuses a notification whose transaction is another app’s (422 wrong_app)', async () => {
    const payload = await signNotification(main.ca.signer, {
      ...initialBuy,
      transaction: { bundleId: OTHER_BUNDLE_ID },
    });
    expect(await refused(main, payload)).toEqual({ status: 422, code: 'wrong_app' });
  });

  it('answers 503 verification_unavailable, which Apple retries, when Apple’s OCSP responder is down', async () => {
    const asked = ocspRequests;
    const payload = await signNotification(ocspCa.signer, initialBuy);
    expect(await refused(strict, payload)).toEqual({ status: 503, code: 'verification_unavailable' });
    expect(ocspRequests).toBeGreaterThan(asked);
  });
});

describe('POST /v1/customers/{appUserId}/tokens', () => {
  // 201: authentication.e2e.spec.ts "gives the app user a token scoped to their active entitlements…".
  const issue = (appUserId: string, credential?: string) =>
    call(main, 'POST', `/v1/customers/${appUserId}/tokens`, { credential });

  it('answers 415 unsupported_media_type to a body that is not JSON, and 401 first to a stranger', async () => {
    const send = (credential?: string) =>
      fetch(`${main.subledger.url}/v1/customers/alice/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/xml', ...(credential && { authorization: `Bearer ${credential}` }) },
        body: '<token/>',
      }).then(async (r) => ({
        status: r.status,
        headers: r.headers,
        body: (await r.json()) as Record<string, unknown>,
      }));
    expectProblem(await send(serverKey), 415, 'unsupported_media_type');
    expectProblem(await send(), 401, 'unauthenticated');
  });

  it('answers 400 malformed_request to an empty app user id, issuing no token', async () => {
    const answer = await issue('', serverKey);
    expectProblem(answer, 400, 'malformed_request');
    expect(answer.body).not.toHaveProperty('token');
  });

  it('refuses a caller without a valid credential with 401 and its code, issuing no token', async () => {
    for (const { credential, code } of await refusedCredentials('alice')) {
      const answer = await issue('alice', credential);
      expectProblem(answer, 401, code);
      expect(answer.body).not.toHaveProperty('token');
    }
  });

  it('gives no app user a token for another user (403 forbidden)', async () => {
    const answer = await issue('alice', await userToken('bob'));
    expectProblem(answer, 403, 'forbidden');
    expect(answer.body).not.toHaveProperty('token');
    expect((await issue('alice', await userToken('alice'))).status).toBe(201);
  });
});

describe('GET /v1/clients/{clientId}/config', () => {
  // 200, 304 and 404 unknown_client: client-config.e2e.spec.ts.
  it('answers 400 malformed_request to a bad platform, version or client id', async () => {
    for (const query of ['platform=web&version=1.0.0', 'platform=ios&version=latest', 'version=1.0.0']) {
      expectProblem(await call(main, 'GET', `/v1/clients/pulse/config?${query}`), 400, 'malformed_request');
    }
    expectProblem(await call(main, 'GET', '/v1/clients//config?platform=ios&version=1.0.0'), 400, 'malformed_request');
  });
});

describe('PUT /v1/admin/clients/{clientId}/config', () => {
  // 200: client-config.e2e.spec.ts "lets an admin replace a configuration, which applies at once".
  const replacement = { defaults: { flags: { beta: true }, contentKinds: ['workout'] }, rules: [] };
  const put = (body: unknown, credential?: string) =>
    call(main, 'PUT', '/v1/admin/clients/pulse/config', { json: body, credential });
  /** Runs `refusal` and checks pulse's stored configuration is as it was. */
  async function changesNothing(refusal: () => Promise<Answer>): Promise<Answer> {
    const read = async () =>
      (await main.db.pool.query(`SELECT document, updated_at FROM client_configs WHERE client_id = 'pulse'`)).rows;
    const before = await read();
    expect(before).toHaveLength(1); // seeded
    const answer = await refusal();
    expect(await read()).toEqual(before);
    return answer;
  }

  it('refuses a caller without a valid credential with 401 and its code', async () => {
    for (const { credential, code } of await refusedCredentials('alice')) {
      expectProblem(await changesNothing(() => put(replacement, credential)), 401, code);
    }
    const revoked = await new ApiKeys(main.db.pool).create('revoked', 'admin');
    await new ApiKeys(main.db.pool).revoke(revoked.key.keyId);
    // API keys are remembered for API_KEY_CACHE_SECONDS: this one was never used, so it is looked up.
    expectProblem(await changesNothing(() => put(replacement, revoked.secret)), 401, 'token_invalid');
  });

  it('forbids an app-server API key and an app user (403 forbidden)', async () => {
    expectProblem(await changesNothing(() => put(replacement, serverKey)), 403, 'forbidden');
    expectProblem(await changesNothing(async () => put(replacement, await userToken('alice'))), 403, 'forbidden');
  });

  it('refuses a document that is not one (400 malformed_request) or has bad versions (422 invalid_config)', async () => {
    expectProblem(await changesNothing(() => put({ defaults: {} }, adminKey)), 400, 'malformed_request');
    const badRange = { ...replacement, rules: [{ versions: 'soon', set: {} }] };
    expectProblem(await changesNothing(() => put(badRange, adminKey)), 422, 'invalid_config');
    const badMinimum = { ...replacement, minimumVersion: { ios: 'one' } };
    expectProblem(await changesNothing(() => put(badMinimum, adminKey)), 422, 'invalid_config');
  });
});

describe('GET /v1/content', () => {
  // 200: content.e2e.spec.ts "lists public fields…" and "pages with a cursor".
  it('answers 400 malformed_request to a bad limit', async () => {
    for (const limit of ['0', '101', 'ten']) {
      expectProblem(await call(main, 'GET', `/v1/content?limit=${limit}`), 400, 'malformed_request');
    }
  });

  it('refuses an expired scoped token (401 token_expired)', async () => {
    expectProblem(
      await call(main, 'GET', '/v1/content', { credential: await expiredScopedToken() }),
      401,
      'token_expired',
    );
  });

  it('refuses a scoped token whose scope was raised by hand (401 token_invalid), and an app user’s access token', async () => {
    const { token } = await main.subledger.tokens.issue('alice', [anEntitlement()]);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const raised = Buffer.from(JSON.stringify({ ...claims, scope: 'coaching premium' })).toString('base64url');
    const forged = `${header}.${raised}.${signature}`;
    expectProblem(await call(main, 'GET', '/v1/content', { credential: forged }), 401, 'token_invalid');
    expectProblem(
      await call(main, 'GET', '/v1/content', { credential: await userToken('alice') }),
      401,
      'token_invalid',
    );
    expect((await call(main, 'GET', '/v1/content', { credential: token })).status).toBe(200);
  });
});

describe('GET /v1/content/{id}', () => {
  // 200, 403 entitlement_required, 401 token_invalid, 404 unknown_content: content.e2e.spec.ts.
  it('refuses an expired scoped token (401 token_expired), without showing the item', async () => {
    const token = await expiredScopedToken();
    const answer = await call(main, 'GET', '/v1/content/workout-hiit-20', { credential: token });
    expectProblem(answer, 401, 'token_expired');
    expect(answer.body).not.toHaveProperty('body');
  });
});

describe.each([
  ['PUT', '/v1/content/{id}/like'],
  ['DELETE', '/v1/content/{id}/like'],
  ['GET', '/v1/content/{id}/likes'],
])('%s %s', (method, route) => {
  // 204/200 and PUT's 404: likes.e2e.spec.ts.
  const item = 'recipe-salmon-bowl';
  const at = (id: string) => route.replace('{id}', id);
  const likers = async () =>
    (
      await main.db.pool.query<{ app_user_id: string }>(
        `SELECT app_user_id FROM content_likes WHERE content_id = $1 ORDER BY app_user_id`,
        [item],
      )
    ).rows;
  /** Runs `refusal` with alice liking the item, and checks who likes it is unchanged. */
  async function changesNothing(refusal: () => Promise<Answer>): Promise<Answer> {
    expect((await call(main, 'PUT', `/v1/content/${item}/like`, { credential: await userToken('alice') })).status).toBe(
      204,
    );
    const before = await likers();
    expect(before).toContainEqual({ app_user_id: 'alice' });
    const answer = await refusal();
    expect(await likers()).toEqual(before);
    return answer;
  }

  it('refuses a caller without a valid credential with 401 and its code', async () => {
    for (const { credential, code } of await refusedCredentials(method === 'PUT' ? 'bob' : 'alice')) {
      expectProblem(await changesNothing(() => call(main, method, at(item), { credential })), 401, code);
    }
  });

  it('is for app users only: an API key gets 403 forbidden', async () => {
    for (const key of [serverKey, adminKey]) {
      expectProblem(await changesNothing(() => call(main, method, at(item), { credential: key })), 403, 'forbidden');
    }
  });

  it('answers 404 unknown_content for content that does not exist', async () => {
    const answer = await changesNothing(async () =>
      call(main, method, at('no-such-thing'), { credential: await userToken('alice') }),
    );
    expectProblem(answer, 404, 'unknown_content');
  });
});
