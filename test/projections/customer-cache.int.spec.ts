import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog-file.ts';
import { DatabaseSignals } from '../../src/db/database-signals.ts';
import type { Queryable } from '../../src/db/pool.ts';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts';
import { recordPurchase } from '../../src/ingest/record-purchase.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { CustomerCache } from '../../src/projections/entitlements/customer-cache.ts';
import { purchasesProjection } from '../../src/projections/entitlements/purchases-projection.ts';
import { ProjectionRunner } from '../../src/projections/runner.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { appleKey, day, period, started } from '../support/purchase-facts.ts';

/*
 * The customer cache of two instances on one database: a hot customer costs no query,
 * and a change the read model commits reaches both within a moment.
 */
const catalog = parseCatalog(readFileSync('catalog/sample-fitness.json', 'utf8'));
let db: TestDatabase;
let eventStore: PostgresEventStore;
let runner: ProjectionRunner;
let caches: CustomerCache[];
let signals: DatabaseSignals[];
let queries: number;
/** The pool, counting the queries that read customers. */
const counting = (): Queryable => ({
  query: ((...args: Parameters<Queryable['query']>) => {
    queries += 1;
    return (db.pool.query as (...a: unknown[]) => unknown)(...args);
  }) as Queryable['query'],
});

beforeAll(async () => {
  db = await createTestDatabase();
  eventStore = new PostgresEventStore(db.pool);
});
afterAll(() => db.drop());
beforeEach(async () => {
  await db.pool.query('TRUNCATE events, purchases, projection_checkpoints');
  queries = 0;
  runner = new ProjectionRunner({
    pool: db.pool,
    eventStore,
    projection: purchasesProjection({ catalog, logger: silentLogger }),
    batchSize: 100,
    idlePollMs: 10,
    logger: silentLogger,
  });
  await runner.start();
  // Two instances: each with its own LISTEN connection.
  signals = [0, 1].map(() => new DatabaseSignals({ pool: db.pool, logger: silentLogger }));
  caches = signals.map((s) => new CustomerCache({ signals: s, db: counting(), logger: silentLogger }));
  for (const cache of caches) cache.start();
  await Promise.all(signals.map((s) => s.start()));
});
afterEach(async () => {
  for (const cache of caches) cache.stop();
  await Promise.all(signals.map((s) => s.stop()));
  await runner.stop();
});

async function buy(appUserId: string, purchaseId: string, { waitForReadModel = true } = {}) {
  const key = appleKey(purchaseId);
  await recordPurchase(
    eventStore,
    key,
    { type: 'LinkToAppUser', data: { appUserId, via: 'app_submission', at: day(0) } },
    { causationId: `link-${purchaseId}` },
  );
  const { append } = (await recordPurchase(
    eventStore,
    key,
    { type: 'RecordStoreFacts', data: { facts: [started(period(`t-${purchaseId}`, 0, 30))] } },
    { causationId: `buy-${purchaseId}` },
  )) as { append: { position: Parameters<ProjectionRunner['waitFor']>[0] } };
  if (waitForReadModel) expect(await runner.waitFor(append.position, 10_000)).toBe(true);
}

describe('customer cache', () => {
  it('serves a hot customer from memory', async () => {
    await buy('alice', 'A-1');
    await sleep(200); // the read model's notice of alice's purchase arrives
    const [cache] = caches;
    for (let i = 0; i < 5; i++) expect(await cache!.purchasesOf('alice')).toHaveLength(1);
    expect(queries).toBe(1);
  });

  it('reads customers missed at the same moment in one query, each getting their own purchases', async () => {
    await buy('alice', 'A-1');
    await buy('bob', 'B-1');
    await buy('bob', 'B-2');
    await sleep(200);
    const [cache] = caches;
    const [alice, bob, nobody, aliceAgain] = await Promise.all(
      ['alice', 'bob', 'nobody', 'alice'].map((user) => cache!.purchasesOf(user)),
    );
    expect(queries).toBe(1);
    expect(alice!.map((p) => p.key.purchaseId)).toEqual(['A-1']);
    expect(bob!.map((p) => p.key.purchaseId).sort()).toEqual(['B-1', 'B-2']);
    expect(nobody).toEqual([]);
    expect(aliceAgain).toBe(alice);
  });

  it('fails only the customer the database refuses among those read together', async () => {
    await buy('alice', 'A-1');
    await sleep(200);
    const [cache] = caches;
    const [evil, alice, bob] = await Promise.allSettled(
      ['evil\u0000', 'alice', 'bob'].map((user) => cache!.purchasesOf(user)),
    );
    expect(evil!.status).toBe('rejected');
    expect(alice).toMatchObject({ status: 'fulfilled', value: [{ key: { purchaseId: 'A-1' } }] });
    expect(bob).toEqual({ status: 'fulfilled', value: [] });
  });

  it('drops a customer in every instance once the read model commits a change to them', async () => {
    await buy('bob', 'B-1');
    for (const cache of caches) expect(await cache.purchasesOf('bob')).toHaveLength(1);
    await buy('bob', 'B-2');
    for (const cache of caches) {
      expect(
        await eventually(
          () => cache.purchasesOf('bob'),
          (p) => p.length === 2,
          1_000,
        ),
      ).toHaveLength(2);
    }
  });

  it('drops every customer a batch changed, when their ids take several notices (each under 8,000 bytes)', async () => {
    // 256 characters each (the longest the API takes): 50 of them in a batch of 100 events; and
    // one of 9,000, longer than any store sends, too long to name in a notice.
    const customers = [...Array.from({ length: 60 }, (_, i) => `${i}`.padStart(256, 'c')), 'l'.repeat(9_000)];
    const [cache] = caches;
    for (const appUserId of customers) expect(await cache!.purchasesOf(appUserId)).toEqual([]);
    await runner.stop();
    const bought = customers.map((appUserId, i) => buy(appUserId, `L-${i}`, { waitForReadModel: false }));
    await Promise.all(bought);
    await runner.start();
    await buy('dave', 'D-1'); // after all of them: once dave is readable, so are they
    for (const appUserId of customers) {
      const purchases = await eventually(
        () => cache!.purchasesOf(appUserId),
        (p) => p.length === 1,
        2_000,
      );
      expect(purchases).toHaveLength(1);
    }
  });

  it('caches nothing while it cannot hear about changes, and listens again', async () => {
    await buy('carol', 'C-1');
    const [cache] = caches;
    await cache!.purchasesOf('carol');
    await db.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND query LIKE 'LISTEN%'`,
    );
    const before = queries;
    const after = await eventually(
      async () => {
        await cache!.purchasesOf('carol');
        return queries;
      },
      (n) => n > before + 1, // read from the database each time
      2_000,
    );
    expect(after).toBeGreaterThan(before + 1);
    // Back to caching after it listens again.
    const uncached = await eventually(
      async () => {
        const start = queries;
        await cache!.purchasesOf('carol');
        await cache!.purchasesOf('carol');
        return queries - start;
      },
      (n) => n === 0,
      5_000,
    );
    expect(uncached).toBe(0);
    await buy('carol', 'C-2');
    expect(
      await eventually(
        () => cache!.purchasesOf('carol'),
        (p) => p.length === 2,
        1_000,
      ),
    ).toHaveLength(2);
  });
});
