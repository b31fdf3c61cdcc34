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
import { silentLogger } from '../../src/observability/logger.ts';
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
