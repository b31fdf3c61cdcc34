import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevTokens } from '../../src/auth/dev-tokens.ts';
import { ScopedTokens } from '../../src/tokens/scoped-tokens.ts';
import { TokenKeyRing } from '../../src/tokens/token-key-ring.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { anEntitlement } from '../support/entitlements.ts';
import { SharedCache, type CacheAnswer } from '../support/shared-cache.ts';
import { systemClock } from '../../src/runtime/system-clock.ts';

/*
 * Issue 11, content that fails closed: a shared cache with no edge logic of ours in front
 * of the service (test/support/shared-cache.ts) must never hand a caller an answer the
 * service would not give that caller directly, whatever the order callers come in; and it
 * must still keep the answers every anonymous caller shares.
 */
const CALLERS = ['anonymous', 'free', 'premium', 'expired', 'forgedScope'] as const;
type Caller = (typeof CALLERS)[number];
/** What each caller's scope holds, as the service sees it (an expired token or a forged header: nothing). */
const SCOPE: Record<Caller, readonly string[]> = {
  anonymous: [],
  free: [],
  premium: ['premium'],
  expired: [],
  forgedScope: [],
};

/** Every status of every content route that reads: scoped-token routes, and likes (an app user's token). */
const ROUTES = [
  { path: '/v1/content', auth: 'scoped' }, // 200 (locked flags per scope), 401
  { path: '/v1/content?kind=recipe', auth: 'scoped' },
  { path: '/v1/content?limit=0', auth: 'scoped' }, // 400
  { path: '/v1/content/workout-hiit-20', auth: 'scoped' }, // premium: 200 or the 403 paywall
  { path: '/v1/content/workout-mobility-10', auth: 'scoped' }, // free: 200 to all
  { path: '/v1/content/program-coach-plan', auth: 'scoped' }, // coaching: 403 to all
  { path: '/v1/content/nothing-here', auth: 'scoped' }, // 404
  { path: '/v1/content/recipe-salmon-bowl/likes', auth: 'appUser' }, // likedByMe is per user
] as const;
type Route = (typeof ROUTES)[number];

const seed = JSON.parse(readFileSync('catalog/sample-content.json', 'utf8')) as {
  body: string;
  requiredEntitlement: string | null;
}[];

let harness: AppleHarness;
const headers = {} as Record<Route['auth'], Record<Caller, Record<string, string>>>;
/** What the service answers each caller on each route, asked directly. */
const direct = new Map<string, { status: number; body: string }>();
const key = (route: Route, caller: Caller) => `${caller} ${route.path}`;

beforeAll(async () => {
  harness = await startAppleHarness({ AUTH_DEV_TOKENS: 'on', RATE_LIMIT_PER_MINUTE: '0' });
  const tokens = harness.subledger.tokens;
  const premium = (await tokens.issue('alice', [anEntitlement()])).token;
  const free = (await tokens.issue('bob', [])).token;
  // Issued an hour ago with a premium scope: the service's own key, long expired.
  const anHourAgo = { now: () => new Date(Date.now() - 3_600_000) };
  const { keyRotationMs, maxLifetimeMs, issuer, audience } = harness.subledger.config.tokens;
  const past = new ScopedTokens(
    new TokenKeyRing(harness.db.pool, {
      rotationMs: keyRotationMs,
      maxTokenLifetimeMs: maxLifetimeMs,
      clock: anHourAgo,
    }),
    { issuer, audience, maxLifetimeMs, clock: anHourAgo },
  );
  const expired = (await past.issue('alice', [anEntitlement()])).token;
  const devTokens = new DevTokens(harness.db.pool, systemClock);
  const [alice, bob, aliceExpired] = await Promise.all([
    devTokens.mint('alice', 600),
    devTokens.mint('bob', 600),
    devTokens.mint('alice', -10),
  ]);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const forged = { 'x-entitlement-scope': 'premium' };
  headers.scoped = {
    anonymous: {},
    free: bearer(free),
    premium: bearer(premium),
    expired: bearer(expired),
    forgedScope: forged,
  };
  headers.appUser = {
    anonymous: {},
    free: bearer(bob),
    premium: bearer(alice),
    expired: bearer(aliceExpired),
    forgedScope: forged,
  };
  const liked = await fetch(`${harness.subledger.url}/v1/content/recipe-salmon-bowl/like`, {
    method: 'PUT',
    headers: bearer(alice),
  });
  expect(liked.status).toBe(204);

  for (const route of ROUTES) {
    for (const caller of CALLERS) {
      const response = await fetch(`${harness.subledger.url}${route.path}`, { headers: headers[route.auth][caller] });
      direct.set(key(route, caller), { status: response.status, body: await response.text() });
    }
  }
});
afterAll(() => harness?.stop());

const ask = (cache: SharedCache, route: Route, caller: Caller) => cache.get(route.path, headers[route.auth][caller]);

/** The answer through the cache is the one the service gives this caller, and holds no body its scope lacks. */
function expectOwnAnswer(answer: CacheAnswer, route: Route, caller: Caller) {
  const where = `${caller} ${route.path}${answer.fromCache ? ' (from the cache)' : ''}`;
  expect({ where, status: answer.status, body: answer.body }).toEqual({ where, ...direct.get(key(route, caller)) });
  for (const item of seed.filter((i) => i.requiredEntitlement && !SCOPE[caller].includes(i.requiredEntitlement))) {
    expect(answer.body, where).not.toContain(item.body);
  }
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations(items.toSpliced(i, 1)).map((rest) => [item, ...rest]));
}

describe('a shared cache in front of the content routes', () => {
  it('tells the premium body from the rest: the routes answer the callers differently', () => {
    const hiit = ROUTES.find((r) => r.path === '/v1/content/workout-hiit-20')!;
    expect(direct.get(key(hiit, 'premium'))!.status).toBe(200);
    expect(direct.get(key(hiit, 'premium'))!.body).toContain('burpees');
    for (const caller of ['anonymous', 'free', 'forgedScope'] as const) {
      expect(direct.get(key(hiit, caller))!.status).toBe(403);
    }
    expect(direct.get(key(hiit, 'expired'))!.status).toBe(401);
  });

  it('does not hand the premium answer a token got to the callers after it (the leak of issue 11)', async () => {
    const cache = new SharedCache(harness.subledger.url);
    for (const route of ROUTES) {
      for (const caller of ['premium', 'anonymous', 'forgedScope', 'free', 'expired'] as const) {
        expectOwnAnswer(await ask(cache, route, caller), route, caller);
      }
    }
  });

  it('gives each caller its own answer, in every order of the five callers, on every route', async () => {
    for (const order of permutations(CALLERS)) {
      const cache = new SharedCache(harness.subledger.url);
      await Promise.all(
        ROUTES.map(async (route) => {
          for (const caller of order) expectOwnAnswer(await ask(cache, route, caller), route, caller);
        }),
      );
    }
  });

  it('gives each caller its own answer in any sequence, repeats included', async () => {
    const request = fc.record({ route: fc.constantFrom(...ROUTES), caller: fc.constantFrom(...CALLERS) });
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 20 }), async (requests) => {
        const cache = new SharedCache(harness.subledger.url);
        for (const { route, caller } of requests) expectOwnAnswer(await ask(cache, route, caller), route, caller);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the answers anonymous callers share: free content, listings and the paywall', async () => {
    const cache = new SharedCache(harness.subledger.url);
    const shared = ROUTES.filter(
      (r) => r.auth === 'scoped' && [200, 403].includes(direct.get(key(r, 'anonymous'))!.status),
    );
    expect(shared.map((r) => r.path)).toEqual([
      '/v1/content',
      '/v1/content?kind=recipe',
      '/v1/content/workout-hiit-20',
      '/v1/content/workout-mobility-10',
      '/v1/content/program-coach-plan',
    ]);
    for (const route of shared) {
      expect((await ask(cache, route, 'anonymous')).fromCache).toBe(false);
      const again = await ask(cache, route, 'anonymous');
      expect(again.fromCache, route.path).toBe(true);
      expectOwnAnswer(again, route, 'anonymous');
      // A forged header is not the empty scope's key: its own copy, with the same anonymous answer.
      const forged = await ask(cache, route, 'forgedScope');
      expect(forged.fromCache).toBe(false);
      expect(forged.body).toBe(again.body);
    }
  });

  it('keeps nothing else: answers to credentials, errors and likes are asked of the service every time', async () => {
    const cache = new SharedCache(harness.subledger.url);
    for (const route of ROUTES) {
      for (const caller of CALLERS) {
        const shareable = caller !== 'free' && caller !== 'premium' && caller !== 'expired';
        if (shareable && [200, 403].includes(direct.get(key(route, caller))!.status)) continue;
        await ask(cache, route, caller);
        expect((await ask(cache, route, caller)).fromCache, key(route, caller)).toBe(false);
      }
    }
  });
});

describe('the scope a client says it has', () => {
  it('changes nothing: X-Entitlement-Scope without a token gets no premium body', async () => {
    const get = (path: string, extra: Record<string, string> = {}) =>
      fetch(`${harness.subledger.url}${path}`, { headers: extra });
    for (const scope of ['premium', 'coaching premium']) {
      const item = await get('/v1/content/workout-hiit-20', { 'x-entitlement-scope': scope });
      expect(item.status).toBe(403);
      expect(await item.text()).not.toContain('burpees');
      const listing = await (await get('/v1/content', { 'x-entitlement-scope': scope })).text();
      expect(listing).toBe(await (await get('/v1/content')).text());
    }
  });
});

describe('cache headers', () => {
  const SHARED = 'public, max-age=0, s-maxage=60';
  const PRIVATE = 'private, max-age=0';
  const VARY = 'authorization, x-entitlement-scope, subledger-edge-proof';
  async function call(path: string, caller: Caller, auth: Route['auth'] = 'scoped', init: RequestInit = {}) {
    const response = await fetch(`${harness.subledger.url}${path}`, {
      ...init,
      headers: { ...headers[auth][caller], ...(init.headers as Record<string, string>) },
    });
    await response.arrayBuffer();
    return {
      status: response.status,
      cacheControl: response.headers.get('cache-control'),
      vary: response.headers.get('vary'),
    };
  }

  it('lets shared caches keep anonymous answers and the paywall, and only browsers keep answers to a token', async () => {
    for (const path of ['/v1/content', '/v1/content/workout-mobility-10']) {
      expect(await call(path, 'anonymous')).toEqual({ status: 200, cacheControl: SHARED, vary: VARY });
      expect(await call(path, 'free')).toEqual({ status: 200, cacheControl: PRIVATE, vary: VARY });
    }
    expect(await call('/v1/content/workout-hiit-20', 'anonymous')).toEqual({
      status: 403,
      cacheControl: SHARED,
      vary: VARY,
    });
    expect(await call('/v1/content/workout-hiit-20', 'free')).toEqual({
      status: 403,
      cacheControl: PRIVATE,
      vary: VARY,
    });
    expect(await call('/v1/content/workout-hiit-20', 'premium')).toEqual({
      status: 200,
      cacheControl: PRIVATE,
      vary: VARY,
    });
    // Credentials that are not a bearer token are still credentials.
    const basic = await fetch(`${harness.subledger.url}/v1/content`, { headers: { authorization: 'Basic YTpi' } });
    expect([basic.status, basic.headers.get('cache-control')]).toEqual([200, PRIVATE]);
  });

  it('keeps the ETag and 304 for browsers, private ones included', async () => {
    const revalidated = async (path: string, caller: Caller) => {
      const first = await fetch(`${harness.subledger.url}${path}`, { headers: headers.scoped[caller] });
      return call(path, caller, 'scoped', { headers: { 'if-none-match': first.headers.get('etag')! } });
    };
    expect(await revalidated('/v1/content/workout-hiit-20', 'premium')).toEqual({
      status: 304,
      cacheControl: PRIVATE,
      vary: VARY,
    });
    expect(await revalidated('/v1/content', 'anonymous')).toEqual({ status: 304, cacheControl: SHARED, vary: VARY });
  });

  it('lets nobody keep 401, 400, 404 or likes', async () => {
    const noStore = (status: number) => ({ status, cacheControl: 'no-store', vary: VARY });
    expect(await call('/v1/content', 'expired')).toEqual(noStore(401));
    expect(await call('/v1/content/workout-hiit-20', 'expired')).toEqual(noStore(401));
    expect(await call('/v1/content?limit=0', 'anonymous')).toEqual(noStore(400));
    expect(await call('/v1/content/nothing-here', 'anonymous')).toEqual(noStore(404));
    expect(await call('/v1/content/nothing-here', 'premium')).toEqual(noStore(404));
    const likes = '/v1/content/recipe-salmon-bowl/likes';
    expect(await call(likes, 'premium', 'appUser')).toEqual(noStore(200));
    expect(await call(likes, 'anonymous', 'appUser')).toEqual(noStore(401));
    expect(await call('/v1/content/recipe-salmon-bowl/like', 'premium', 'appUser', { method: 'PUT' })).toEqual(
      noStore(204),
    );
  });
});
