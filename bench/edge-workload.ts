/**
 * The edge bench's workload, and an in-process model of the edge's cache that replays it.
 * Pure and seeded: the same parameters give the same requests, so the three cache-key
 * designs (and the model) see exactly the same sequence.
 *
 * Shape, after the platform Subledger comes from (1M monthly users, 20M calls a day):
 * app users in sessions (a burst of screens a few seconds apart) spread over a window of
 * simulated time; most reads are of single items, picked by Zipf popularity or re-read
 * within the session, the rest list pages. Each user has one plan; tokens are renewed
 * every 15 minutes of simulated time, and a few requests carry an expired token (an app
 * that did not renew) or one for another audience.
 */

export interface WorkloadParameters {
  readonly users: number;
  readonly items: number;
  /** Zipf exponent of item popularity (1.0: the k-th item is read 1/k as often as the first). */
  readonly zipf: number;
  readonly requests: number;
  /** Mean requests in one session (one user's burst of screens): more means more re-reads by the same user. */
  readonly sessionRequests: number;
  readonly seed: number;
}

/** What a user's token proves: the sorted ids of their active entitlements. */
export const PLANS = {
  free: [],
  premium: ['premium'],
  coaching: ['coaching', 'premium'],
} as const satisfies Record<string, readonly string[]>;
export type Plan = keyof typeof PLANS;

/** What a content item needs: null is free for everyone, the paywall otherwise. */
export type Requirement = null | 'premium' | 'coaching';

export type Credential =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'token'; readonly user: number; readonly period: number }
  | { readonly kind: 'expired'; readonly user: number }
  | { readonly kind: 'wrong-audience'; readonly user: number };

export type Target =
  { readonly kind: 'item'; readonly item: number } | { readonly kind: 'list'; readonly page: number };

export interface EdgeRequest {
  /** Simulated milliseconds since the window began. */
  readonly at: number;
  readonly credential: Credential;
  readonly target: Target;
}

/** Simulated time the requests are spread over. */
export const WINDOW_MS = 60 * 60_000;
/** A user's token is renewed every this often: one token per user and period. */
export const TOKEN_PERIOD_MS = 15 * 60_000;
export const LIST_PAGE_SIZE = 20;
/** List pages read: a user scrolls at most this far. */
export const LIST_PAGES = 5;

const PLAN_SHARES: readonly [Plan, number][] = [
  ['free', 0.75],
  ['premium', 0.2],
  ['coaching', 0.05],
];
const REQUIREMENT_SHARES: readonly [Requirement, number][] = [
  [null, 0.68],
  ['premium', 0.3],
  ['coaching', 0.02],
];
/** Sessions without a token: the app before sign-in, or the website. */
const ANONYMOUS_SESSIONS = 0.1;
/** Of a token holder's requests: with a token the app forgot to renew (about 1.35% of all requests). */
const EXPIRED_SHARE = 0.015;
const WRONG_AUDIENCE_SHARE = 0.002;
const MEAN_SECONDS_BETWEEN_SCREENS = 20;
/** After the first screen (a list page): a list page, an item read earlier in the session, or a new item. */
const LIST_SHARE = 0.1;
const REREAD_SHARE = 0.3;

/** mulberry32: small, fast and good enough to pick requests; seeded, so runs repeat. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function pick<T>(random: () => number, shares: readonly [T, number][]): T {
  let u = random();
  for (const [value, share] of shares) {
    if (u < share) return value;
    u -= share;
  }
  return shares.at(-1)![0];
}

/** Item ranks by Zipf popularity: rank 0 is the most read. Sampling is a binary search of the cumulative weights. */
export function zipfSampler(items: number, exponent: number, random: () => number): () => number {
  const cumulative = new Float64Array(items);
  let total = 0;
  for (let rank = 0; rank < items; rank++) cumulative[rank] = total += 1 / (rank + 1) ** exponent;
  return () => {
    const u = random() * total;
    let low = 0;
    let high = items - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cumulative[middle]! <= u) low = middle + 1;
      else high = middle;
    }
    return low;
  };
}

/** Each user's plan, fixed for the window. */
export function userPlans(users: number, seed: number): Plan[] {
  const random = seededRandom(seed ^ 0x5eed_0001);
  return Array.from({ length: users }, () => pick(random, PLAN_SHARES));
}

/** Each item's requirement (independent of its popularity: premium items are as popular as free ones). */
export function itemRequirements(items: number, seed: number): Requirement[] {
  const random = seededRandom(seed ^ 0x5eed_0002);
  return Array.from({ length: items }, () => pick(random, REQUIREMENT_SHARES));
}

/** The scope a caller's token proves (anonymous: the empty scope); none for a refused one. */
export function scopeOf(credential: Credential, plans: readonly Plan[]): readonly string[] | undefined {
  if (credential.kind === 'anonymous') return [];
  if (credential.kind === 'token') return PLANS[plans[credential.user]!];
  return undefined;
}

export function allows(scope: readonly string[], requirement: Requirement): boolean {
  return requirement === null || scope.includes(requirement);
}

/** The requests, in time order: sessions started uniformly over the window, `requests` of them in all. */
export function generateRequests(parameters: WorkloadParameters): EdgeRequest[] {
  const random = seededRandom(parameters.seed);
  const popularItem = zipfSampler(parameters.items, parameters.zipf, random);
  const exponential = (mean: number) => -Math.log(1 - random()) * mean;
  const requests: EdgeRequest[] = [];
  while (requests.length < parameters.requests) {
    const user = Math.floor(random() * parameters.users);
    const anonymous = random() < ANONYMOUS_SESSIONS;
    const length = 1 + Math.floor(exponential(parameters.sessionRequests - 1));
    const read: number[] = [];
    let page = 0;
    let at = random() * WINDOW_MS;
    for (let screen = 0; screen < length && at < WINDOW_MS; screen++) {
      let target: Target;
      const choice = random();
      if (screen === 0 || choice < LIST_SHARE) {
        // Scrolling on, or back to the top.
        page = screen === 0 ? 0 : random() < 0.5 ? Math.min(page + 1, LIST_PAGES - 1) : 0;
        target = { kind: 'list', page };
      } else if (choice < LIST_SHARE + REREAD_SHARE && read.length > 0) {
        target = { kind: 'item', item: read[Math.floor(random() * read.length)]! };
      } else {
        const item = popularItem();
        read.push(item);
        target = { kind: 'item', item };
      }
      requests.push({ at: Math.floor(at), credential: credentialAt(anonymous, user, at, random()), target });
      at += exponential(MEAN_SECONDS_BETWEEN_SCREENS * 1000);
    }
  }
  return requests.sort((a, b) => a.at - b.at).slice(0, parameters.requests);
}

function credentialAt(anonymous: boolean, user: number, at: number, u: number): Credential {
  if (anonymous) return { kind: 'anonymous' };
  if (u < EXPIRED_SHARE) return { kind: 'expired', user };
  if (u < EXPIRED_SHARE + WRONG_AUDIENCE_SHARE) return { kind: 'wrong-audience', user };
  return { kind: 'token', user, period: Math.floor(at / TOKEN_PERIOD_MS) };
}

/** How the edge keys its cache (edge/src/edge-request.ts cacheKeyPart). */
export type CacheKeyDesign = 'token' | 'user' | 'scope';
export const DESIGNS: readonly CacheKeyDesign[] = ['token', 'user', 'scope'];

function pathKey(target: Target): string {
  return target.kind === 'item' ? `i${target.item}` : `l${target.page}`;
}

/**
 * The Worker's cache key for a request, or undefined for one it refuses (never cached).
 * Anonymous callers share the empty scope's copy in every design, as in the Worker.
 */
export function cacheKeyOf(request: EdgeRequest, design: CacheKeyDesign, plans: readonly Plan[]): string | undefined {
  const { credential } = request;
  const path = pathKey(request.target);
  if (credential.kind === 'expired' || credential.kind === 'wrong-audience') return undefined;
  if (design === 'scope' || credential.kind === 'anonymous') {
    return `${path} s:${scopeOf(credential, plans)!.join(' ')}`;
  }
  if (design === 'user') return `${path} u:${credential.user}`;
  return `${path} t:${credential.user}.${credential.period}`;
}

export interface ModelResult {
  readonly cacheable: number;
  readonly hits: number;
  /** The hit ratio over the second half of the requests, the cache warmed by the first half. */
  readonly warmHitRatio: number;
}

/**
 * The edge cache as a set of keys seen, nothing ever expiring (as in the run, where the
 * origin lets the edge keep content a day). With `inFlight` > 0, a miss's copy is there
 * only for requests that start `inFlight` requests later: at a fixed concurrency, the
 * requests already under way when the first asked the origin miss as well.
 */
export function modelHitRatio(
  requests: readonly EdgeRequest[],
  design: CacheKeyDesign,
  plans: readonly Plan[],
  inFlight = 0,
): ModelResult {
  const storedFrom = new Map<string, number>();
  let cacheable = 0;
  let hits = 0;
  let warmCacheable = 0;
  let warmHits = 0;
  requests.forEach((request, index) => {
    const key = cacheKeyOf(request, design, plans);
    if (key === undefined) return;
    const warm = index >= requests.length / 2;
    cacheable++;
    if (warm) warmCacheable++;
    const from = storedFrom.get(key);
    if (from !== undefined && from <= index) {
      hits++;
      if (warm) warmHits++;
    } else if (from === undefined) {
      storedFrom.set(key, index + inFlight);
    }
  });
  return { cacheable, hits, warmHitRatio: warmCacheable ? warmHits / warmCacheable : 0 };
}
