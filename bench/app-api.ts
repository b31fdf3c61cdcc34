/**
 * `npm run bench:app-api`: the app API under load, against Subledger as `npm start` runs
 * it (its own process) on the embedded PostgreSQL, with generated data: 100,000
 * customers with an active subscription and 1,000 content items. In one run: a bare
 * fastify route (the ceiling, also its own process), then customer info for random
 * customers, token issuance, premium content with a valid scoped token, like/unlike,
 * and client configuration. Each for SECONDS (10) on CONNECTIONS (50) with autocannon,
 * after WARMUP_SECONDS (5) of the same load, unmeasured.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { ApiKeys } from '../src/auth/api-keys.ts';
import { DevTokens } from '../src/auth/dev-tokens.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { foldPurchase } from '../src/domain/purchase/state.ts';
import { toTimestamp } from '../src/domain/time.ts';
import { benchPostgres, machine } from './support.ts';
import { startService } from './webhook-service.ts';
import { CpuMeter, postmasterOf } from './webhook-cpu.ts';
import { systemClock } from '../src/runtime/system-clock.ts';

const CUSTOMERS = Number(process.env.CUSTOMERS ?? 100_000);
const ITEMS = Number(process.env.ITEMS ?? 1_000);
const SECONDS = Number(process.env.SECONDS ?? 10);
/** Unmeasured load before each scenario: the JIT compiles the hot paths, caches fill as in a service that has run a while. */
const WARMUP_SECONDS = Number(process.env.WARMUP_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const LIKERS = 2_000;
/** Only the scenarios whose names contain one of these (comma-separated); the ceiling always runs. */
const ONLY = process.env.SCENARIOS?.split(',');
/** Write a V8 CPU profile of the service into PROFILE_DIR (for `node --cpu-prof` tooling). */
const PROFILE_DIR = process.env.PROFILE_DIR;
const random = (n: number) => Math.floor(Math.random() * n);

const postgres = await benchPostgres();
const databaseUrl = await postgres.freshDatabase('app_api');
const pool = createPool(databaseUrl, 4);
const workDir = await mkdtemp(path.join(os.tmpdir(), 'subledger-app-api-'));
try {
  await migrate(pool);
  await generateData();
  const apiKey = (await new ApiKeys(pool).create('bench', 'app-server')).secret;
  const devTokens = new DevTokens(pool, systemClock);
  const likers = await Promise.all(Array.from({ length: LIKERS }, (_, i) => devTokens.mint(`liker-${i}`, 3600)));

  const service = await startService({
    databaseUrl,
    trustedRootPath: 'certs/apple/AppleRootCA-G3.cer',
    workDir: PROFILE_DIR ?? workDir,
    logLevel: 'warn',
    ...(PROFILE_DIR && { cpuProfile: true }),
    env: { RATE_LIMIT_PER_MINUTE: '0', AUTH_DEV_TOKENS: 'on', DATABASE_POOL_SIZE: '20' },
  });
  const ceiling = await startCeiling();
  try {
    const auth = { authorization: `Bearer ${apiKey}` };
    const scoped = await (
      await fetch(`${service.url}/v1/customers/user-1/tokens`, { method: 'POST', headers: auth })
    ).json();
    const premiumToken = (scoped as { token: string }).token;
    let like = 0;
    const randomCustomer: autocannon.Options['requests'] = [
      {
        method: 'GET',
        headers: auth,
        setupRequest: (r) => ({ ...r, path: `/v1/customers/user-${random(CUSTOMERS)}` }),
      },
    ];
    let swept = 0;
    /** Asks for every customer once, in order: the cache then holds them, as in a service that has run a while. */
    const everyCustomerOnce = () =>
      autocannon({
        url: service.url,
        connections: CONNECTIONS,
        amount: CUSTOMERS,
        requests: [
          { method: 'GET', headers: auth, setupRequest: (r) => ({ ...r, path: `/v1/customers/user-${swept++}` }) },
        ],
      });
    const scenarios: Scenario[] = [
      { name: 'bare fastify route (ceiling)', url: ceiling.url, requests: [{ method: 'GET', path: '/' }] },
      // Just started: every customer's first request reads the database (in batches).
      { name: 'customer info, cold: just started', url: service.url, requests: randomCustomer, warmup: 'none' },
      {
        name: 'customer info, warm: each seen once',
        url: service.url,
        requests: randomCustomer,
        warmup: everyCustomerOnce,
      },
      {
        name: 'token issuance',
        url: service.url,
        requests: [
          {
            method: 'POST',
            headers: auth,
            setupRequest: (r) => ({ ...r, path: `/v1/customers/user-${random(CUSTOMERS)}/tokens` }),
          },
        ],
      },
      {
        name: 'premium content with a token',
        url: service.url,
        requests: [
          {
            method: 'GET',
            headers: { authorization: `Bearer ${premiumToken}` },
            setupRequest: (r) => ({ ...r, path: `/v1/content/bench-item-${random(ITEMS)}` }),
          },
        ],
      },
      {
        name: 'like / unlike',
        url: service.url,
        requests: [
          {
            setupRequest: (r) => {
              const n = like++;
              return {
                ...r,
                method: n % 2 ? 'DELETE' : 'PUT',
                path: `/v1/content/bench-item-${random(ITEMS)}/like`,
                headers: { authorization: `Bearer ${likers[random(LIKERS)]}` },
              };
            },
          },
        ],
      },
      {
        name: 'client config',
        url: service.url,
        requests: [{ method: 'GET', path: '/v1/clients/pulse/config?platform=ios&version=2.1.0' }],
      },
    ];
    const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const cpu = new CpuMeter([service.pid], postmasterOf(rows[0]!.pid));
    const results = [];
    let ceilingRate = 0;
    let maxRss = 0;
    for (const { name, url, requests, warmup } of scenarios) {
      if (url !== ceiling.url && ONLY && !ONLY.some((part) => name.includes(part))) continue;
      if (typeof warmup === 'function') await warmup();
      else if (warmup !== 'none' && WARMUP_SECONDS > 0) {
        await autocannon({ url, connections: CONNECTIONS, duration: WARMUP_SECONDS, requests });
      }
      const before = cpu.sample();
      const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, requests });
      const used = cpu.between(before, cpu.sample());
      const rps = result.requests.average;
      if (!ceilingRate) ceilingRate = rps;
      const rss = await rssOf(service.pid);
      if (url === service.url) maxRss = Math.max(maxRss, rss);
      results.push({
        scenario: name,
        'req/s': Math.round(rps),
        'p50 ms': result.latency.p50,
        'p99 ms': result.latency.p99,
        'errors + non-2xx': result.errors + result.non2xx,
        'of ceiling': `${Math.round((rps / ceilingRate) * 100)}%`,
        'service RSS MB': url === service.url ? Math.round(rss / 1024) : '',
        'cores: service/pg/load/other': [used.subledger, used.postgres, used.loadGenerator, used.other]
          .map((c) => c.toFixed(2))
          .join(' / '),
      });
      console.error(`${name}: ${Math.round(rps)} req/s`);
    }
    console.log(`\nMachine: ${JSON.stringify(machine())}`);
    console.log(
      `${CUSTOMERS} customers, ${ITEMS} items, ${CONNECTIONS} connections, ${SECONDS} s each; ` +
        `the ${os.cpus().length} cores are shared by the service, PostgreSQL, autocannon (load) and anything else running (other)`,
    );
    console.table(results);
    console.log(`max service RSS: ${Math.round(maxRss / 1024)} MB`);
  } finally {
    await service.stop();
    ceiling.child.kill();
  }
} finally {
  await pool.end();
  await postgres.dropDatabase(databaseUrl);
  await postgres.stop();
}

interface Scenario {
  readonly name: string;
  readonly url: string;
  readonly requests: autocannon.Options['requests'];
  /** Before measuring: WARMUP_SECONDS of the same load (the default), nothing, or this. */
  readonly warmup?: 'none' | (() => Promise<unknown>);
}

/** Customers with an active monthly subscription (one folded state, copied), and content items. */
async function generateData(): Promise<void> {
  const now = Date.now();
  const transaction = {
    transactionId: 'bench',
    productId: 'com.example.pulse.premium.monthly',
    purchasedAt: toTimestamp(now - 86_400_000),
    expiresAt: toTimestamp(now + 29 * 86_400_000),
    periodType: 'normal' as const,
    ownership: 'purchased' as const,
  };
  const state = foldPurchase([
    { type: 'SubscriptionStarted', data: { transaction, observedAt: transaction.purchasedAt } },
  ]);
  await pool.query(
    `INSERT INTO purchases (stream_id, store, environment, purchase_id, app_user_id, store_product_id, product_id,
                            access_from, access_until, lifetime_access, will_renew, state, stream_version)
     SELECT 'purchase:app_store:production:bench-' || n, 'app_store', 'production', 'bench-' || n, 'user-' || n,
            $1, 'premium_monthly', $2, $3, false, true, $4, 0
     FROM generate_series(0, $5 - 1) AS n`,
    [transaction.productId, transaction.purchasedAt, transaction.expiresAt, state, CUSTOMERS],
  );
  await pool.query(
    `INSERT INTO content_items (content_id, kind, title, summary, body, tags, required_entitlement)
     SELECT 'bench-item-' || n, CASE WHEN n % 2 = 0 THEN 'workout' ELSE 'recipe' END, 'Item ' || n,
            'Summary of item ' || n, repeat('Body text. ', 200), ARRAY['bench'],
            CASE WHEN n % 3 = 0 THEN NULL ELSE 'premium' END
     FROM generate_series(0, $1 - 1) AS n`,
    [ITEMS],
  );
  // As a table that has been in use is: vacuumed, with statistics. Freshly loaded, the
  // planner knows nothing of its size (and may scan it in parallel for one customer),
  // and autovacuum would be busy with it during the measurements.
  await pool.query('VACUUM ANALYZE purchases, content_items');
}

async function startCeiling() {
  const port = 20_000 + random(20_000);
  const child = spawn(process.execPath, ['bench/app-api-ceiling.ts'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(child.stdout!, 'data');
  await sleep(100);
  return { child, url: `http://127.0.0.1:${port}` };
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0);
}
