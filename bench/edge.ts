/**
 * `npm run bench:edge`: the edge Worker's cache-key designs against each other. The Worker
 * (edge/src/cloudflare-worker.ts, bundled as deployed) runs in workerd through Miniflare,
 * with the Workers cache, in front of Subledger as `npm start` runs it (its own process,
 * on the embedded PostgreSQL, taking no tokens directly: everything goes through the edge).
 * The same seeded request sequence (bench/edge-workload.ts: users in sessions over a
 * simulated hour, Zipf item popularity, tokens renewed every 15 minutes, a few expired or
 * for another audience) is replayed through three Workers, each with a fresh cache, keyed
 * per token, per user and per scope (the design). For each: the edge hit ratio, the
 * requests that reached the origin (the origin's own /metrics), latency at the client, and
 * leaks (every answer is checked against the caller's scope and the generated bodies).
 * Then the hit ratios over other popularity skews and catalogue sizes, from an in-process
 * model of the cache, validated against the measured run.
 *
 * Env: USERS (100,000), ITEMS (1,500), ZIPF (1.0), REQUESTS per design (100,000: the whole
 * bench in about 10 minutes on 2 cores), SESSION_REQUESTS (12, the mean), CONCURRENCY (32
 * requests in flight), SEED (1), SENSITIVITY (on; off skips the model's tables).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { bundleWorker } from '../edge/build.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import type { Entitlement } from '../src/domain/entitlements.ts';
import { toTimestamp } from '../src/domain/time.ts';
import { systemClock } from '../src/runtime/system-clock.ts';
import { ScopedTokens } from '../src/tokens/scoped-tokens.ts';
import { TokenKeyRing } from '../src/tokens/token-key-ring.ts';
import {
  DESIGNS,
  LIST_PAGE_SIZE,
  PLANS,
  WINDOW_MS,
  allows,
  generateRequests,
  itemRequirements,
  modelHitRatio,
  scopeOf,
  userPlans,
  type CacheKeyDesign,
  type Credential,
  type EdgeRequest,
  type Requirement,
  type WorkloadParameters,
} from './edge-workload.ts';
import { benchPostgres, machine } from './support.ts';
import { startService, type RunningService } from './webhook-service.ts';

const BASE: WorkloadParameters = {
  users: Number(process.env.USERS ?? 100_000),
  items: Number(process.env.ITEMS ?? 1_500),
  zipf: Number(process.env.ZIPF ?? 1.0),
  requests: Number(process.env.REQUESTS ?? 100_000),
  sessionRequests: Number(process.env.SESSION_REQUESTS ?? 12),
  seed: Number(process.env.SEED ?? 1),
};
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const SENSITIVITY = process.env.SENSITIVITY !== 'off';
/** The origin lets the edge keep content a day (it purges on change): nothing expires during the replay. */
const SHARED_MAX_AGE_SECONDS = 86_400;
const PROOF_KEY = `bench-edge:${randomBytes(30).toString('base64url')}`;
const TOKEN_LIFETIME_MS = 15 * 60_000;
const DESIGN_NAMES: Record<CacheKeyDesign, string> = { token: 'per token', user: 'per user', scope: 'per scope' };

/** Ctrl-C ends the run at the next request (or step); the finally blocks then stop everything. */
let interrupted = false;
const interrupt = () => (interrupted = true);
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
for (const signal of SIGNALS) process.once(signal, interrupt);
const stopIfInterrupted = () => {
  if (interrupted) throw new Error('Interrupted');
};

/** The one request sequence every design replays, and what the model reads. */
const requests = generateRequests(BASE);
const plans = userPlans(BASE.users, BASE.seed);
const requirements = itemRequirements(BASE.items, BASE.seed);

const itemId = (item: number) => `edge-item-${item}`;
/** Each body names its item, so a body anywhere in any answer can be told apart (see judge). */
const bodyOf = (item: number) => `Body of ${itemId(item)}: ${'Warm up, then three rounds. '.repeat(72)}`;
const BODY_MARK = /Body of edge-item-(\d+):/g;

// ---------------------------------------------------------------------------------------
// Content and tokens

async function insertItems(pool: Pool): Promise<void> {
  const ids = requirements.map((_, item) => itemId(item));
  await pool.query(
    `INSERT INTO content_items (content_id, kind, title, summary, body, tags, required_entitlement)
     SELECT id, 'workout', 'Item ' || id, 'Summary of ' || id, body, ARRAY['bench'], requirement
     FROM unnest($1::text[], $2::text[], $3::text[]) AS t(id, body, requirement)`,
    [ids, ids.map((_, item) => bodyOf(item)), requirements],
  );
  await pool.query('VACUUM ANALYZE content_items');
}

interface ListPage {
  readonly path: string;
  /** The id the page must begin with: a page that does not is another page. */
  readonly firstId: string;
}

/** The list pages, in order: the cursor of page p is the last id on page p - 1, in the origin's order. */
async function listPages(pool: Pool): Promise<ListPage[]> {
  const { rows } = await pool.query<{ content_id: string }>('SELECT content_id FROM content_items ORDER BY content_id');
  const ids = rows.map((r) => r.content_id);
  return Array.from({ length: Math.ceil(ids.length / LIST_PAGE_SIZE) }, (_, page) => ({
    path:
      page === 0
        ? `/v1/content?limit=${LIST_PAGE_SIZE}`
        : `/v1/content?limit=${LIST_PAGE_SIZE}&cursor=${encodeURIComponent(ids[page * LIST_PAGE_SIZE - 1]!)}`,
    firstId: ids[page * LIST_PAGE_SIZE]!,
  }));
}

function entitlement(id: string): Entitlement {
  const now = Date.now();
  const day = 86_400_000;
  return {
    id,
    active: true,
    expiresAt: toTimestamp(now + 30 * day),
    purchasedAt: toTimestamp(now - day),
    currentPeriod: { startsAt: toTimestamp(now - day), endsAt: toTimestamp(now + 30 * day) },
    productId: id === 'coaching' ? 'premium_coaching_monthly' : 'premium_monthly',
    storeProductId: `com.example.pulse.${id}.monthly`,
    purchase: { store: 'app_store', environment: 'production', purchaseId: `bench-${id}` },
    willRenew: true,
    periodType: 'normal',
    ownership: 'purchased',
  };
}

type Signed = Exclude<Credential, { kind: 'anonymous' }>;
const credentialKey = (credential: Signed) =>
  credential.kind === 'token' ? `${credential.user}.${credential.period}` : `${credential.kind} ${credential.user}`;

/**
 * Tokens for every credential the requests carry, minted before a replay (not during it)
 * and fresh for each design, so none runs out while its replay lasts (under 15 minutes).
 * A user's token for each 15-minute period is a token of its own, as a renewal would be.
 */
async function mintTokens(pool: Pool): Promise<Map<string, string>> {
  const keyRing = new TokenKeyRing(pool, {
    rotationMs: 7 * 86_400_000,
    maxTokenLifetimeMs: TOKEN_LIFETIME_MS,
    clock: systemClock,
  });
  const issuer = (audience: string, clock = systemClock) =>
    new ScopedTokens(keyRing, { issuer: 'subledger', audience, maxLifetimeMs: TOKEN_LIFETIME_MS, clock });
  const current = issuer('subledger-content');
  // Issued 20 minutes ago: expired 5 minutes ago, beyond the edge's 30 s of clock skew.
  const expired = issuer('subledger-content', { now: () => new Date(Date.now() - 20 * 60_000) });
  const otherAudience = issuer('another-service');
  const needed = new Map<string, Signed>();
  for (const { credential } of requests) {
    if (credential.kind !== 'anonymous') needed.set(credentialKey(credential), credential);
  }
  const tokens = new Map<string, string>();
  const work = [...needed];
  const mintNext = async () => {
    for (let next = work.pop(); next; next = work.pop()) {
      const [key, credential] = next;
      const issuedBy = { token: current, expired, 'wrong-audience': otherAudience }[credential.kind];
      const entitlements = PLANS[plans[credential.user]!].map(entitlement);
      tokens.set(key, (await issuedBy.issue(`user-${credential.user}`, entitlements)).token);
    }
  };
  await Promise.all(Array.from({ length: 16 }, mintNext));
  return tokens;
}

// ---------------------------------------------------------------------------------------
// One design: a fresh Worker, the requests replayed through it, every answer checked

interface DesignResult {
  readonly design: CacheKeyDesign;
  readonly seconds: number;
  /** What x-edge-cache said, by request. */
  readonly outcomes: Uint8Array;
  readonly originContent: number;
  readonly originJwks: number;
  readonly latenciesMs: Float64Array;
  readonly statuses: Map<number, number>;
  readonly leaks: string[];
  readonly wrong: string[];
  /** Requests that got no answer (the connection failed): left out of everything else. */
  readonly failed: string[];
}

const NOT_CACHEABLE = 0;
const HIT = 1;
const MISS = 2;
const FAILED = 3;

/** Hits over hits + misses among the requests from `from` on. */
function hitRatio(outcomes: Uint8Array, from = 0): number {
  let hits = 0;
  let misses = 0;
  for (let index = from; index < outcomes.length; index++) {
    if (outcomes[index] === HIT) hits++;
    else if (outcomes[index] === MISS) misses++;
  }
  return hits / (hits + misses);
}

const missesIn = (outcomes: Uint8Array) => outcomes.filter((outcome) => outcome === MISS).length;

async function measure(
  design: CacheKeyDesign,
  script: string,
  pool: Pool,
  service: RunningService,
  pages: readonly ListPage[],
): Promise<DesignResult> {
  const minting = performance.now();
  const tokens = await mintTokens(pool);
  console.error(
    `${DESIGN_NAMES[design]}: ${tokens.size} tokens minted in ${((performance.now() - minting) / 1000).toFixed(1)} s`,
  );
  const worker = new Miniflare({
    modules: true,
    script,
    compatibilityDate: '2026-04-01',
    bindings: { ORIGIN_URL: service.url, EDGE_PROOF_KEY: PROOF_KEY, CACHE_KEY: design },
  });
  // Node's http with keep-alive: on a trivial Worker about 5,000 req/s here, against 2,500
  // with fetch() to the same URL and 1,500 with Miniflare's dispatchFetch().
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    const url = await worker.ready;
    const before = await originCounts(service.url);
    const latenciesMs = new Float64Array(requests.length);
    const statuses = new Map<number, number>();
    const leaks: string[] = [];
    const wrong: string[] = [];
    const failed: string[] = [];
    const outcomes = new Uint8Array(requests.length);
    let next = 0;
    console.error(`${DESIGN_NAMES[design]}: replaying ${requests.length} requests`);
    const started = performance.now();
    const replayLoop = async () => {
      for (let index = next++; index < requests.length; index = next++) {
        stopIfInterrupted();
        const request = requests[index]!;
        const { credential, target } = request;
        const path = target.kind === 'item' ? `/v1/content/${itemId(target.item)}` : pages[target.page]!.path;
        const token = credential.kind === 'anonymous' ? undefined : tokens.get(credentialKey(credential));
        const sent = performance.now();
        let answer: Answer;
        try {
          answer = await get(agent, new URL(path, url), token);
        } catch (error) {
          // Not retried: the first try may have reached the origin. Counted, and reported.
          outcomes[index] = FAILED;
          failed.push(`#${index} ${path}: ${String(error)}`);
          continue;
        }
        latenciesMs[index] = performance.now() - sent;
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const cache = answer.headers['x-edge-cache'];
        outcomes[index] = cache === 'hit' ? HIT : cache === 'miss' ? MISS : NOT_CACHEABLE;
        const verdict = judge(request, answer, pages);
        if (verdict?.leak) leaks.push(`#${index} ${path}: ${verdict.why}`);
        else if (verdict) wrong.push(`#${index} ${path}: ${verdict.why}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, replayLoop));
    const seconds = (performance.now() - started) / 1000;
    const after = await originCounts(service.url);
    console.error(`${DESIGN_NAMES[design]}: ${Math.round(requests.length / seconds)} req/s`);
    return {
      design,
      seconds,
      outcomes,
      originContent: after.content - before.content,
      originJwks: after.jwks - before.jwks,
      latenciesMs,
      statuses,
      leaks,
      wrong,
      failed,
    };
  } finally {
    agent.destroy();
    await worker.dispose();
  }
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

function get(agent: http.Agent, url: URL, token: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    http
      .get(url, { agent, headers }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, text }));
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Content requests and JWKS fetches the origin has answered so far, from its /metrics. */
async function originCounts(origin: string): Promise<{ content: number; jwks: number }> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const counts = { content: 0, jwks: 0 };
  for (const [, route, count] of text.matchAll(
    /^subledger_http_request_duration_seconds_count\{[^}]*route="([^"]*)"[^}]*\} (\d+)/gm,
  )) {
    if (route === '/v1/content' || route === '/v1/content/:id') counts.content += Number(count);
    if (route === '/.well-known/jwks.json') counts.jwks += Number(count);
  }
  return counts;
}

/**
 * What is wrong with an answer, if anything. A leak: a body the caller's scope does not
 * allow, anywhere in the answer; a body that is not the item's; a refused caller
 * (expired, another audience) answered with anything but 401. Wrong (not a leak, still
 * counted): another status than the scope calls for, another item or page, or a list
 * whose locks were made for another scope.
 */
function judge(
  request: EdgeRequest,
  answer: Answer,
  pages: readonly ListPage[],
): { leak: boolean; why: string } | undefined {
  const scope = scopeOf(request.credential, plans);
  for (const [, item] of answer.text.matchAll(BODY_MARK)) {
    // A body of an item this bench did not write would be a surprise: judged as premium.
    const requirement = Number(item) < requirements.length ? requirements[Number(item)]! : 'premium';
    if (!allows(scope ?? [], requirement)) {
      return { leak: true, why: `body of ${itemId(Number(item))} to ${describe(request.credential)}` };
    }
  }
  if (scope === undefined) {
    const expected = request.credential.kind === 'expired' ? 'token_expired' : 'token_invalid';
    if (answer.status !== 401) return { leak: true, why: `${describe(request.credential)} answered ${answer.status}` };
    const code = (JSON.parse(answer.text) as { code?: string }).code;
    return code === expected ? undefined : { leak: false, why: `401 ${code}, not ${expected}` };
  }
  if (answer.headers['x-entitlement-scope'] !== scope.join(' ')) {
    return {
      leak: false,
      why: `answer for scope "${answer.headers['x-entitlement-scope']}", asked by "${scope.join(' ')}"`,
    };
  }
  const { target } = request;
  if (target.kind === 'item') {
    const requirement = requirements[target.item]!;
    const expectedStatus = allows(scope, requirement) ? 200 : 403;
    if (answer.status !== expectedStatus) return { leak: false, why: `${answer.status}, not ${expectedStatus}` };
    if (answer.status === 403) return undefined;
    const item = JSON.parse(answer.text) as { id?: string; body?: string };
    if (item.body !== bodyOf(target.item)) {
      return { leak: requirement !== null, why: `not the body of ${itemId(target.item)}` };
    }
    return item.id === itemId(target.item) ? undefined : { leak: false, why: `item ${item.id}` };
  }
  if (answer.status !== 200) return { leak: false, why: `list page ${answer.status}` };
  const page = JSON.parse(answer.text) as {
    items: { id: string; locked: boolean; requiredEntitlement: Requirement }[];
  };
  if (page.items[0]?.id !== pages[target.page]!.firstId) return { leak: false, why: `another page` };
  const wronglyLocked = page.items.filter((i) => i.locked === allows(scope, i.requiredEntitlement));
  return wronglyLocked.length === 0 ? undefined : { leak: false, why: `${wronglyLocked.length} items locked wrongly` };
}

function describe(credential: Credential): string {
  if (credential.kind === 'token') return `a ${plans[credential.user]} user`;
  return credential.kind === 'anonymous' ? 'an anonymous caller' : `a token ${credential.kind}`;
}

// ---------------------------------------------------------------------------------------
// Report

function report(results: readonly DesignResult[]): void {
  const byDesign = new Map(results.map((r) => [r.design, r]));
  const share = (predicate: (r: EdgeRequest) => boolean) =>
    percent(requests.filter(predicate).length / requests.length);
  const requiring = (requirement: Requirement) => requirements.filter((r) => r === requirement).length;
  const planCounts = Object.keys(PLANS).map((plan) => `${plans.filter((p) => p === plan).length} ${plan}`);
  console.log(`\nMachine: ${JSON.stringify(machine())}`);
  console.log(
    `Workload (seed ${BASE.seed}): ${BASE.requests} requests per design over a simulated ${WINDOW_MS / 60_000} minutes, ` +
      `in sessions of ${BASE.sessionRequests} requests on average; ${BASE.users} users (${planCounts.join(', ')}); ` +
      `${BASE.items} items by Zipf popularity (exponent ${BASE.zipf}), ${requiring('premium')} premium-only, ` +
      `${requiring('coaching')} coaching-only; ${share((r) => r.target.kind === 'list')} list pages; ` +
      `${share((r) => r.credential.kind === 'anonymous')} anonymous, ${share((r) => r.credential.kind === 'expired')} ` +
      `expired tokens, ${share((r) => r.credential.kind === 'wrong-audience')} tokens for another audience; ` +
      `${CONCURRENCY} requests in flight.`,
  );
  console.log(
    `The origin lets the edge keep content ${SHARED_MAX_AGE_SECONDS / 3600} h (CONTENT_SHARED_MAX_AGE_SECONDS; it ` +
      'purges on change), so nothing expires during the replay. With the default 60 s, copies would expire during it, ' +
      'and the hit ratios would depend on how fast this machine replays, not on the key design.',
  );
  console.log(
    'Hit ratio: x-edge-cache hits over hits + misses, i.e. over the cacheable answers (200s, and 403 paywalls, to ' +
      'anonymous callers and valid tokens); the 401s the edge answers itself (expired, other audience) are left out. ' +
      'Second half: the same over the last half of the requests, the cache warmed by the first. Origin requests: the ' +
      'content requests the origin answered, from its own /metrics. Latency: at the client, a closed loop of ' +
      `${CONCURRENCY}, so mostly queueing in workerd (p50 ≈ ${CONCURRENCY} / edge req/s).`,
  );
  console.table(
    results.map((r) => {
      const answered = r.latenciesMs.filter((_, index) => r.outcomes[index] !== FAILED);
      return {
        design: DESIGN_NAMES[r.design],
        requests: r.outcomes.length,
        'hit ratio': percent(hitRatio(r.outcomes)),
        'second half': percent(hitRatio(r.outcomes, Math.ceil(r.outcomes.length / 2))),
        'origin requests': r.originContent,
        'origin req/s': Math.round(r.originContent / r.seconds),
        'edge req/s': Math.round(r.outcomes.length / r.seconds),
        'p50 ms': percentile(answered, 0.5).toFixed(1),
        'p99 ms': percentile(answered, 0.99).toFixed(1),
        leaks: r.leaks.length,
        'wrong answers': r.wrong.length,
        'no answer': r.failed.length,
      };
    }),
  );
  for (const r of results) {
    const statuses = [...r.statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${n} × ${status}`);
    console.log(
      `${DESIGN_NAMES[r.design]}: ${statuses.join(', ')}; ${missesIn(r.outcomes)} misses; ` +
        `${r.originJwks} JWKS fetches; replayed in ${r.seconds.toFixed(0)} s`,
    );
    for (const line of [...r.leaks, ...r.wrong, ...r.failed].slice(0, 5)) console.log(`  ${line}`);
  }

  console.log(
    '\nThe model (bench/edge-workload.ts: the same requests, a set of keys, nothing expiring) beside the run:',
  );
  console.table(
    results.map((r) => {
      const model = modelHitRatio(requests, r.design, plans);
      const inFlight = modelHitRatio(requests, r.design, plans, CONCURRENCY);
      return {
        design: DESIGN_NAMES[r.design],
        measured: percent(hitRatio(r.outcomes)),
        model: percent(model.hits / model.cacheable),
        [`model, ${CONCURRENCY} in flight`]: percent(inFlight.hits / inFlight.cacheable),
        'measured, second half': percent(hitRatio(r.outcomes, Math.ceil(r.outcomes.length / 2))),
        'model, second half': percent(model.warmHitRatio),
      };
    }),
  );
  console.log(
    `"${CONCURRENCY} in flight": a miss's copy serves only requests sent ${CONCURRENCY} or more later, as at a fixed ` +
      'concurrency the requests already under way for the same key miss too (and the Worker stores its copy after ' +
      'answering, in waitUntil).',
  );

  const scope = byDesign.get('scope');
  const token = byDesign.get('token');
  if (scope && token) {
    const scopeHitRatio = hitRatio(scope.outcomes);
    const leaks = results.reduce((sum, r) => sum + r.leaks.length, 0);
    const fewer = token.originContent / Math.max(1, scope.originContent);
    const verdict = (pass: boolean) => (pass ? 'PASS' : 'FAIL');
    console.log('\nGoals:');
    console.log(
      `  ${verdict(scopeHitRatio >= 0.95)} per-scope hit ratio ${percent(scopeHitRatio)}, at least 95% (aim: 97%)`,
    );
    console.log(`  ${verdict(leaks === 0)} ${leaks} leaks, in all designs`);
    console.log(
      `  ${verdict(fewer >= 10)} per-scope origin requests ${fewer.toFixed(1)}x fewer than per-token ` +
        `(${scope.originContent} against ${token.originContent}), at least 10x`,
    );
  }
  if (SENSITIVITY) sensitivity();
}

const percent = (ratio: number) => `${(ratio * 100).toFixed(2)}%`;

function percentile(values: Float64Array, p: number): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/**
 * Hit ratios of other workloads, from the model: replaying each through workerd would take
 * hours. The popularity skew and the catalogue size, then the session length (how often a
 * user reads the same thing again, which is all the per-user and per-token keys can use).
 */
function sensitivity(): void {
  const row = (parameters: WorkloadParameters) => {
    const sequence = generateRequests(parameters);
    const plansThere = userPlans(parameters.users, parameters.seed);
    const models = new Map(DESIGNS.map((design) => [design, modelHitRatio(sequence, design, plansThere)]));
    const misses = (design: CacheKeyDesign) => models.get(design)!.cacheable - models.get(design)!.hits;
    return {
      ...Object.fromEntries(
        DESIGNS.map((design) => [
          DESIGN_NAMES[design],
          percent(models.get(design)!.hits / models.get(design)!.cacheable),
        ]),
      ),
      'origin, token ÷ scope': `${(misses('token') / misses('scope')).toFixed(1)}x`,
    };
  };
  console.log(
    `\nSensitivity (model; ${BASE.requests} requests, ${BASE.users} users, sessions of ${BASE.sessionRequests}; ` +
      `this run: ZIPF ${BASE.zipf}, ITEMS ${BASE.items}):`,
  );
  const byPopularity = [];
  for (const zipf of [0.6, 0.8, 1.0, 1.2]) {
    for (const items of [500, 2_000, 10_000]) byPopularity.push({ zipf, items, ...row({ ...BASE, zipf, items }) });
  }
  console.table(byPopularity);
  console.log(`By session length (model; ZIPF ${BASE.zipf}, ITEMS ${BASE.items}):`);
  console.table(
    [4, 12, 40].map((sessionRequests) => ({
      'requests per session': sessionRequests,
      ...row({ ...BASE, sessionRequests }),
    })),
  );
}

// ---------------------------------------------------------------------------------------
// The run

const results: DesignResult[] = [];
const postgres = await benchPostgres();
const workDir = await mkdtemp(path.join(os.tmpdir(), 'subledger-edge-'));
try {
  const databaseUrl = await postgres.freshDatabase('edge');
  const pool = createPool(databaseUrl, 4);
  try {
    await migrate(pool);
    await insertItems(pool);
    stopIfInterrupted();
    const service = await startService({
      databaseUrl,
      trustedRootPath: 'certs/apple/AppleRootCA-G3.cer',
      workDir,
      logLevel: 'warn',
      env: {
        EDGE_PROOF_KEYS: PROOF_KEY,
        EDGE_DIRECT_TOKENS: 'off',
        RATE_LIMIT_PER_MINUTE: '0',
        CONTENT_SHARED_MAX_AGE_SECONDS: String(SHARED_MAX_AGE_SECONDS),
        // The origin's own request counter, readable without an admin key.
        OPERATOR_ROUTES: 'public',
      },
    });
    try {
      const pages = await listPages(pool);
      const script = await bundleWorker();
      for (const design of DESIGNS) {
        stopIfInterrupted();
        results.push(await measure(design, script, pool, service, pages));
      }
    } finally {
      await service.stop();
    }
  } finally {
    await pool.end();
    await postgres.dropDatabase(databaseUrl);
  }
} finally {
  await postgres.stop();
  await rm(workDir, { recursive: true, force: true });
  // Nothing left to stop: a signal may end the process again as it ordinarily would.
  for (const signal of SIGNALS) process.off(signal, interrupt);
}
report(results);
