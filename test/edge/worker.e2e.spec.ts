import { readFile } from 'node:fs/promises';
import { SignJWT, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScopedTokens } from '../../src/tokens/scoped-tokens.ts';
import { TokenKeyRing } from '../../src/tokens/token-key-ring.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { startEdgeWorker, type EdgeWorker } from '../support/edge-worker.ts';
import { anEntitlement } from '../support/entitlements.ts';
import { startSwitchableOrigin, type SwitchableOrigin } from '../support/switchable-origin.ts';

/*
 * Issue 13: the edge Worker, bundled as deployed, in workerd (through Miniflare), with the
 * Workers cache, in front of a real Subledger that takes no tokens directly
 * (EDGE_DIRECT_TOKENS=off): everything a caller gets past the edge, it got through the
 * scope the edge verified and proved.
 */
const PROOF_KEY = 'edge-1:' + 's'.repeat(40);
const PREMIUM_ITEM = '/v1/content/workout-hiit-20';
const FREE_ITEM = '/v1/content/workout-mobility-10';
const COACHING_ITEM = '/v1/content/program-coach-plan';
const CLOCK_SKEW_SECONDS = 30;

/** The service's clock: real time, moved back by the tests that need an old token. */
let shift = 0;
const clock = { now: () => new Date(Date.now() + shift) };

let harness: AppleHarness;
let origin: SwitchableOrigin;
let edge: EdgeWorker;
let premiumBody: string;

beforeAll(async () => {
  harness = await startAppleHarness(
    // A JWKS kept a second, so that the edge's copy goes stale within a test.
    { EDGE_PROOF_KEYS: PROOF_KEY, EDGE_DIRECT_TOKENS: 'off', TOKEN_JWKS_CACHE_SECONDS: '1' },
    { clock },
  );
  origin = await startSwitchableOrigin(harness.subledger.url);
  edge = await startEdgeWorker({
    ORIGIN_URL: origin.url,
    EDGE_PROOF_KEY: PROOF_KEY,
    CLOCK_SKEW_SECONDS: String(CLOCK_SKEW_SECONDS),
    JWKS_REFRESH_COOLDOWN_SECONDS: '3600',
  });
  const catalog = JSON.parse(await readFile('catalog/sample-content.json', 'utf8')) as { id: string; body: string }[];
  premiumBody = catalog.find((item) => item.id === 'workout-hiit-20')!.body;
});
afterAll(async () => {
  await edge?.dispose();
  await origin?.close();
  await harness?.stop();
});

const tokenFor = async (user: string, entitlements = [anEntitlement()]) =>
  (await harness.subledger.tokens.issue(user, entitlements)).token;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface Answer {
  status: number;
  cache: string | null;
  code?: string;
  body?: string;
  locked?: boolean;
  cacheControl: string | null;
  challenge: string | null;
  type: string | null;
  cacheTag: string | null;
}

async function ask(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await edge.get(path, headers);
  const json = (await response.json()) as {
    code?: string;
    body?: string;
    locked?: boolean;
    item?: { locked: boolean };
  };
  return {
    status: response.status,
    cache: response.headers.get('x-edge-cache'),
    ...(json.code !== undefined && { code: json.code }),
    ...(json.body !== undefined && { body: json.body }),
    locked: json.locked ?? json.item?.locked,
    cacheControl: response.headers.get('cache-control'),
    challenge: response.headers.get('www-authenticate'),
    type: response.headers.get('content-type'),
    cacheTag: response.headers.get('cache-tag'),
  };
}

const originAsked = (path: string) => origin.seen.get(path) ?? 0;

describe('a premium item', () => {
  it('is fetched once per scope: a miss for the first premium caller, a hit for the next', async () => {
    const first = await ask(PREMIUM_ITEM, bearer(await tokenFor('alice')));
    expect(first).toMatchObject({ status: 200, cache: 'miss', body: premiumBody, locked: false });
    expect(first.cacheControl).toBe('private, max-age=0');

    const second = await ask(PREMIUM_ITEM, bearer(await tokenFor('bob')));
    expect(second).toMatchObject({ status: 200, cache: 'hit', body: premiumBody, locked: false });
    expect(originAsked(PREMIUM_ITEM)).toBe(1);
    // The kept copy's purge tags are the edge's own business.
    expect(first.cacheTag).toBeNull();
    expect(second.cacheTag).toBeNull();
  });

  it('reaches the origin with the scope and a proof, never with the token', async () => {
    const token = await tokenFor('carol', [anEntitlement({ id: 'coaching' })]);
    expect(await ask(COACHING_ITEM, bearer(token))).toMatchObject({ status: 200, cache: 'miss', locked: false });
    const sent = origin.lastHeaders();
    expect(sent.authorization).toBeUndefined();
    expect(sent['x-entitlement-scope']).toBe('coaching');
    expect(sent['subledger-edge-proof']).toMatch(/^v1 edge-1 \d+ \S+$/);
  });

  it('gets the paywall for a caller without the entitlement, kept and shared with anonymous callers', async () => {
    const before = originAsked(COACHING_ITEM);
    const anonymous = await ask(COACHING_ITEM);
    expect(anonymous).toMatchObject({ status: 403, code: 'entitlement_required', locked: true, cache: 'miss' });
    expect(anonymous.body).toBeUndefined();
    expect(anonymous.cacheControl).toBe('public, max-age=0');
    // A free user's token has the empty scope: the anonymous copy, without the origin.
    const free = await ask(COACHING_ITEM, bearer(await tokenFor('dave', [])));
    expect(free).toMatchObject({ status: 403, code: 'entitlement_required', cache: 'hit' });
    expect(originAsked(COACHING_ITEM)).toBe(before + 1);
  });
});

describe('anonymous callers', () => {
  it('share one copy of a free item', async () => {
    expect(await ask(FREE_ITEM)).toMatchObject({ status: 200, cache: 'miss', locked: false });
    expect(await ask(FREE_ITEM)).toMatchObject({ status: 200, cache: 'hit', locked: false });
    expect(originAsked(FREE_ITEM)).toBe(1);
  });

  it('cannot claim a scope by sending the header, nor a proof', async () => {
    await ask(PREMIUM_ITEM, bearer(await tokenFor('erin'))); // the premium copy is in the cache
    const claimed = await ask(PREMIUM_ITEM, {
      'x-entitlement-scope': 'premium',
      'subledger-edge-proof': 'v1 edge-1 9999999999 forged',
    });
    expect(claimed).toMatchObject({ status: 403, code: 'entitlement_required', locked: true });
    expect(claimed.body).toBeUndefined();
    expect(origin.lastHeaders()['x-entitlement-scope']).toBe('');
  });
});

describe('a token the edge refuses', () => {
  const refusedAs = (answer: Answer, code: string, description: string) => {
    expect(answer).toMatchObject({ status: 401, code, type: 'application/problem+json', cacheControl: 'no-store' });
    expect(answer.challenge).toBe(`Bearer error="invalid_token", error_description="${description}"`);
    expect(answer.body).toBeUndefined();
    expect(answer.cache).toBeNull();
  };

  /** A token whose 15 minutes ended `secondsAgo` ago. */
  async function expiredToken(secondsAgo: number) {
    shift = -(900 + secondsAgo) * 1000;
    try {
      return await tokenFor('frank');
    } finally {
      shift = 0;
    }
  }

  it('expired: 401 token_expired, never the premium body, even with the premium copy in the cache', async () => {
    await ask(PREMIUM_ITEM, bearer(await tokenFor('grace')));
    for (let i = 0; i < 2; i++)
      refusedAs(await ask(PREMIUM_ITEM, bearer(await expiredToken(300))), 'token_expired', 'token expired');
  });

  it('expired by less than the clock skew allowed: still accepted', async () => {
    expect(await ask(PREMIUM_ITEM, bearer(await expiredToken(CLOCK_SKEW_SECONDS - 20)))).toMatchObject({
      status: 200,
      body: premiumBody,
    });
    refusedAs(
      await ask(PREMIUM_ITEM, bearer(await expiredToken(CLOCK_SKEW_SECONDS + 20))),
      'token_expired',
      'token expired',
    );
  });

  it('malformed: 401 token_invalid', async () => {
    for (const token of ['not-a-token', 'a.b.c', 'eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln']) {
      refusedAs(await ask(PREMIUM_ITEM, bearer(token)), 'token_invalid', 'malformed token');
    }
    const noExpiry = 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln'; // {"alg":"ES256"}.{}.sig
    refusedAs(await ask(PREMIUM_ITEM, bearer(noExpiry)), 'token_invalid', 'the token has no expiry');
    refusedAs(
      await ask(PREMIUM_ITEM, { authorization: 'Basic YWxpY2U6c2VjcmV0' }),
      'token_invalid',
      'send the token as Authorization: Bearer <token>',
    );
  });

  it('signed by a key Subledger never published: 401 token_invalid, the JWKS fetched at most once per cooldown', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const jwksFetches = originAsked('/.well-known/jwks.json');
    for (let i = 0; i < 5; i++) {
      const forged = await new SignJWT({ scope: 'premium' })
        .setProtectedHeader({ alg: 'ES256', kid: `made-up-${i}`, typ: 'at+jwt' })
        .setIssuer('subledger')
        .setAudience('subledger-content')
        .setSubject('mallory')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
      refusedAs(await ask(PREMIUM_ITEM, bearer(forged)), 'token_invalid', 'unknown signing key');
    }
    // Only the schedule (the JWKS's one-second max-age) fetches it: none of the made-up key ids does.
    expect(originAsked('/.well-known/jwks.json') - jwksFetches).toBeLessThanOrEqual(1);
  });

  it('altered: 401 token_invalid', async () => {
    const [header, , signature] = (await tokenFor('ivy', [])).split('.');
    const claims = {
      sub: 'ivy',
      scope: 'premium',
      iss: 'subledger',
      aud: 'subledger-content',
      iat: 1,
      exp: 4_000_000_000,
    };
    const altered = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    refusedAs(await ask(PREMIUM_ITEM, bearer(altered)), 'token_invalid', 'bad signature');
  });

  it('for another audience, signed by Subledger’s own key: 401 token_invalid', async () => {
    const otherService = new ScopedTokens(
      new TokenKeyRing(harness.db.pool, { rotationMs: 7 * 86_400_000, maxTokenLifetimeMs: 900_000, clock }),
      { issuer: 'subledger', audience: 'another-service', maxLifetimeMs: 900_000, clock },
    );
    const token = (await otherService.issue('heidi', [anEntitlement()])).token;
    refusedAs(await ask(PREMIUM_ITEM, bearer(token)), 'token_invalid', 'token is for another audience');
  });
});

describe('with the origin down', () => {
  it('goes on verifying with the keys it has and serving what it keeps; a miss is a 502, an expired token still a 401', async () => {
    const token = await tokenFor('ivan');
    await ask(PREMIUM_ITEM, bearer(token)); // cached, and the keys fetched
    origin.down();
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // the edge's copy of the JWKS is now stale
      expect(await ask(PREMIUM_ITEM, bearer(await tokenFor('judy')))).toMatchObject({
        status: 200,
        cache: 'hit',
        body: premiumBody,
      });
      const miss = await ask('/v1/content/recipe-salmon-bowl', bearer(token));
      expect(miss).toMatchObject({ status: 502, code: 'origin_unavailable', cacheControl: 'no-store' });
      shift = -1_200_000;
      const expired = await tokenFor('ken');
      shift = 0;
      expect(await ask(PREMIUM_ITEM, bearer(expired))).toMatchObject({ status: 401, code: 'token_expired' });
    } finally {
      origin.up();
    }
    expect(await ask('/v1/content/recipe-salmon-bowl', bearer(token))).toMatchObject({ status: 200, cache: 'miss' });
  });
});
