import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { afterAll, expect, it } from 'vitest';
import { buildApi } from '../../src/api/app.ts';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/db/embedded-postgres.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createPool } from '../../src/db/pool.ts';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts';
import { createLogger, silentLogger } from '../../src/observability/logger.ts';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { loadConfig } from '../../src/config/config.ts';
import { startSubledger } from '../../src/runtime/subledger.ts';
import { ProjectionRunner } from '../../src/projections/runner.ts';
import { checkReadiness } from '../../src/runtime/readiness.ts';
import { freePort } from '../support/free-port.ts';

/*
 * The database goes away and comes back: /ready says so meanwhile, the runner
 * retries with backoff, and nothing is lost.
 */
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

it('reports not ready during a database outage and catches up when the database returns', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'subledger-outage-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  let server: RunningPostgres = await startEmbeddedPostgres({ dataDir, port });
  cleanups.push(() => server.stop());
  const pool = createPool(server.url, 5);
  cleanups.push(() => pool.end());
  await migrate(pool);

  const eventStore = new PostgresEventStore(pool);
  const seen: string[] = [];
  const runner = new ProjectionRunner({
    pool,
    eventStore,
    projection: {
      name: 'seen',
      apply: async (events) => void seen.push(...events.map((e) => e.id)),
      reset: async () => {},
    },
    batchSize: 10,
    idlePollMs: 20,
    logger: silentLogger,
  });
  await runner.start();
  cleanups.push(() => runner.stop());
  const api = await buildApi({
    logger: silentLogger,
    readiness: () => checkReadiness({ pool, eventStore, runners: [runner], expectedSchemaVersion: 2 }),
  });
  cleanups.push(() => api.close());

  const before = randomUUID();
  const first = await eventStore.append('s', [{ id: before, type: 'E', data: {}, metadata: {} }], {
    expectedVersion: 'any',
  });
  expect(await runner.waitFor(first.position, 5000)).toBe(true);
  expect((await api.inject('/ready')).statusCode).toBe(200);

  await server.stop();
  const down = await api.inject('/ready');
  expect(down.statusCode).toBe(503);
  expect(down.json()).toMatchObject({ status: 'not_ready', database: { reachable: false } });
  await waitUntil(() => runner.status().failing !== undefined);
  expect((await api.inject('/health')).statusCode).toBe(200);

  server = await startEmbeddedPostgres({ dataDir, port });
  const after = randomUUID();
  // Pooled connections broken by the restart fail once; the pool replaces them.
  const second = await pRetry(
    () => eventStore.append('s', [{ id: after, type: 'E', data: {}, metadata: {} }], { expectedVersion: 'any' }),
    { retries: 10, minTimeout: 50 },
  );
  expect(await runner.waitFor(second.position, 30_000)).toBe(true);
  expect(seen).toEqual([before, after]);
  await waitUntil(async () => (await api.inject('/ready')).statusCode === 200);
  expect(runner.status().failing).toBeUndefined();
});

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

it('answers 503 with Retry-After while the database is away, serves cached customers, and logs the outage once', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'subledger-outage-api-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const server = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  cleanups.push(() => server.stop());
  const lines: { msg: string; level: number }[] = [];
  const logger = createLogger('info', 'json', { write: (line: string) => void lines.push(JSON.parse(line)) });
  const subledger = await startSubledger(
    loadConfig({ DATABASE_URL: server.url, PORT: '0', RATE_LIMIT_PER_MINUTE: '0' }),
    logger,
  );
  cleanups.push(() => subledger.stop());
  const { secret } = await new ApiKeys(subledger.pool).create('app', 'app-server');
  const read = (appUserId: string) =>
    fetch(`${subledger.url}/v1/customers/${appUserId}`, { headers: { authorization: `Bearer ${secret}` } });
  expect((await read('cached')).status).toBe(200);

  await server.stop();
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => read(`uncached-${i}`)));
  for (const answer of answers) {
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
    expect(((await answer.json()) as { code: string }).code).toBe('database_unavailable');
  }
  expect((await read('cached')).status).toBe(200);
  const outageLines = lines.filter((l) => l.msg.includes('database cannot be reached'));
  expect(outageLines).toHaveLength(1);
  expect(lines.filter((l) => l.msg === 'request failed')).toEqual([]);
});
