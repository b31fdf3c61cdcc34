import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { loadConfig } from '../../src/config/config.ts';
import { recordPurchase } from '../../src/ingest/record-purchase.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { startSubledger, type Subledger } from '../../src/runtime/subledger.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { appleKey, day, period, started } from '../support/purchase-facts.ts';

/*
 * Who may read a customer: the app user themself (an access token of the app's
 * identity provider, here a small fake one over HTTP serving its JWKS), or a server
 * with an API key. Everything else is refused with a code.
 */
const ISSUER = 'https://id.example.test/';
let db: TestDatabase;
let subledger: Subledger;
let idp: Server;
type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let signingKey: SigningKey;
let keys: ApiKeys;
/** The service's clock: real time, moved ahead by the tests that need a token to expire. */
let ahead = 0;
const clock = { now: () => new Date(Date.now() + ahead) };

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  signingKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'ES256' };
  idp = createServer((_, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  db = await createTestDatabase();
  subledger = await startSubledger(
    loadConfig({
      DATABASE_URL: db.url,
      PORT: '0',
      AUTH_ISSUER: ISSUER,
      AUTH_JWKS_URL: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`,
      AUTH_AUDIENCE: 'pulse-api',
      // Revocations bite at once here; by default within 30 s (keys are remembered).
      API_KEY_CACHE_SECONDS: '0',
    }),
    silentLogger,
    { clock },
  );
  keys = new ApiKeys(db.pool);
});
afterAll(async () => {
  await subledger?.stop();
  await db?.drop();
  idp?.close();
});

function userToken(sub: string, options: { expiresIn?: string | number; audience?: string; key?: SigningKey } = {}) {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
    .setIssuer(ISSUER)
    .setAudience(options.audience ?? 'pulse-api')
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(options.key ?? signingKey);
}
async function getAlice(credential?: string) {
  const response = await fetch(`${subledger.url}/v1/customers/alice`, {
    headers: credential ? { authorization: `Bearer ${credential}` } : {},
  });
  const body = (await response.json()) as { code?: string; appUserId?: string };
  return { status: response.status, code: body.code, appUserId: body.appUserId };
}

describe('reaching a customer', () => {
  it('lets the app user read their own customer', async () => {
    expect(await getAlice(await userToken('alice'))).toMatchObject({ status: 200, appUserId: 'alice' });
  });

  it('forbids an app user another user’s customer', async () => {
    expect(await getAlice(await userToken('bob'))).toMatchObject({ status: 403, code: 'forbidden' });
  });

  it('refuses no credential, an expired token, a forged one, one for another audience', async () => {
    expect(await getAlice()).toMatchObject({ status: 401, code: 'unauthenticated' });
    const expired = await userToken('alice', { expiresIn: Math.floor(Date.now() / 1000) - 10 });
    expect(await getAlice(expired)).toMatchObject({ status: 401, code: 'token_expired' });
    const { privateKey } = await generateKeyPair('ES256');
    expect(await getAlice(await userToken('alice', { key: privateKey }))).toMatchObject({
      status: 401,
      code: 'token_invalid',
    });
    expect(await getAlice(await userToken('alice', { audience: 'other-api' }))).toMatchObject({
      status: 401,
      code: 'token_invalid',
    });
  });

  it('remembers a verified token only until it expires', async () => {
    // Used once while valid (and remembered), then once the service's clock is past its expiry.
    const token = await userToken('alice', { expiresIn: '2m' });
    expect(await getAlice(token)).toMatchObject({ status: 200, appUserId: 'alice' });
    ahead = 3 * 60_000;
    try {
      expect(await getAlice(token)).toMatchObject({ status: 401, code: 'token_expired' });
      // Not remembered: a token first seen after its expiry is refused by the signature check too.
      const unseen = await userToken('alice', { expiresIn: '2m' });
      expect(await getAlice(unseen)).toMatchObject({ status: 401, code: 'token_expired' });
    } finally {
      ahead = 0;
    }
  });

  it('says in WWW-Authenticate whether a token was missing, invalid or expired (RFC 6750)', async () => {
    const challenge = async (authorization?: string) =>
      (
        await fetch(`${subledger.url}/v1/customers/alice`, { headers: authorization ? { authorization } : {} })
      ).headers.get('www-authenticate');
    expect(await challenge()).toBe('Bearer');
    expect(await challenge('Bearer not-a-token')).toBe('Bearer error="invalid_token"');
    const token = await userToken('alice', { expiresIn: '2m' });
    ahead = 3 * 60_000;
    try {
      expect(await challenge(`Bearer ${token}`)).toBe(
        'Bearer error="invalid_token", error_description="token expired"',
      );
    } finally {
      ahead = 0;
    }
  });

  it('lets a server with an API key read any customer, until the key is revoked', async () => {
    const { key, secret } = await keys.create('backend', 'app-server');
    expect(await getAlice(secret)).toMatchObject({ status: 200, appUserId: 'alice' });
    await keys.revoke(key.keyId);
    expect(await getAlice(secret)).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(await getAlice(`${secret.slice(0, -1)}x`)).toMatchObject({ status: 401, code: 'token_invalid' });
  });

  it('keeps only a hash of each API key', async () => {
    const { secret } = await keys.create('hashed', 'admin');
    const { rows } = await db.pool.query(`SELECT * FROM api_keys WHERE name = 'hashed'`);
    expect(JSON.stringify(rows)).not.toContain(secret.split('_').at(-1));
  });
});

describe('POST /v1/customers/{appUserId}/tokens', () => {
  it('gives the app user a token scoped to their active entitlements, verifiable with the JWKS', async () => {
    // Today, counted in the purchase-fact helpers' days.
    const today = Math.floor((Date.now() - Date.parse(day(0))) / 86_400_000);
    const key = appleKey('TOKENS-1');
    await recordPurchase(
      subledger.eventStore,
      key,
      { type: 'LinkToAppUser', data: { appUserId: 'alice', via: 'app_submission', at: day(today - 1) } },
      { causationId: 'link' },
    );
    const { append } = (await recordPurchase(
      subledger.eventStore,
      key,
      { type: 'RecordStoreFacts', data: { facts: [started(period('t1', today - 1, today + 29))] } },
      { causationId: 'buy' },
    )) as { append: { position: Parameters<Subledger['purchases']['waitFor']>[0] } };
    expect(await subledger.purchases.waitFor(append.position, 10_000)).toBe(true);
    subledger.customers.invalidate('alice');

    const response = await fetch(`${subledger.url}/v1/customers/alice/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await userToken('alice')}` },
    });
    expect(response.status).toBe(201);
    const issued = (await response.json()) as { token: string; scope: string[]; expiresAt: string };
    expect(issued.scope).toEqual(['premium']);
    const jwks = createLocalJWKSet(
      (await (await fetch(`${subledger.url}/.well-known/jwks.json`)).json()) as Parameters<typeof createLocalJWKSet>[0],
    );
    const { payload } = await jwtVerify(issued.token, jwks, { issuer: 'subledger' });
    expect(payload).toMatchObject({ sub: 'alice', scope: 'premium', exp: Date.parse(issued.expiresAt) / 1000 });
  });

  it('gives no one a token for another user', async () => {
    const response = await fetch(`${subledger.url}/v1/customers/alice/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await userToken('bob')}` },
    });
    expect(response.status).toBe(403);
  });
});
