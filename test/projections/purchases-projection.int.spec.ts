import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog-file.ts';
import { customerEntitlementsAt } from '../../src/domain/entitlements.ts';
import type { PurchaseEvent } from '../../src/domain/purchase/events.ts';
import { purchaseStreamId } from '../../src/domain/purchase/purchase-key.ts';
import { foldPurchase } from '../../src/domain/purchase/state.ts';
import {} from '../../src/domain/purchase/status.ts';
import { START, comparePositions, type GlobalPosition } from '../../src/eventstore/global-position.ts';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts';
import { recordPurchase } from '../../src/ingest/record-purchase.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { findCustomerPurchases, unknownStoreProducts } from '../../src/projections/entitlements/customer-purchases.ts';
import { purchasesProjection } from '../../src/projections/entitlements/purchases-projection.ts';
import { refoldCustomer } from '../../src/projections/entitlements/refold-customer.ts';
import { resetProjection } from '../../src/projections/rebuild.ts';
import { ProjectionRunner } from '../../src/projections/runner.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { appleKey, day, fact, period, renewed, started } from '../support/purchase-facts.ts';

const catalog = parseCatalog(readFileSync('catalog/sample-fitness.json', 'utf8'));
let db: TestDatabase;
let eventStore: PostgresEventStore;
let runner: ProjectionRunner;
const projection = () => purchasesProjection({ catalog, logger: silentLogger });
const newRunner = (batchSize = 100) =>
  new ProjectionRunner({
    pool: db.pool,
    eventStore,
    projection: projection(),
    batchSize,
    idlePollMs: 10,
    logger: silentLogger,
  });

beforeAll(async () => {
  db = await createTestDatabase();
  eventStore = new PostgresEventStore(db.pool);
});
afterAll(() => db.drop());
beforeEach(async () => {
  await db.pool.query('TRUNCATE events, purchases, projection_checkpoints');
  lastWrite = START;
  runner = newRunner();
  await runner.start();
});
afterEach(() => runner.stop());

let notification = 0;
/** The position of the newest append: what read-your-writes waits for. */
let lastWrite: GlobalPosition = START;
async function record(purchaseId: string, ...facts: PurchaseEvent[]) {
  return remember(
    await recordPurchase(
      eventStore,
      appleKey(purchaseId),
      { type: 'RecordStoreFacts', data: { facts } },
      {
        causationId: `notification-${++notification}`,
      },
    ),
  );
}
async function link(purchaseId: string, appUserId: string) {
  return remember(
    await recordPurchase(
      eventStore,
      appleKey(purchaseId),
      {
        type: 'LinkToAppUser',
        data: { appUserId, via: 'app_submission', at: day(0) },
      },
      { causationId: `link-${purchaseId}-${appUserId}` },
    ),
  );
}
function remember<R extends { outcome: string; append?: { position: GlobalPosition } }>(result: R): R {
  if (result.append && comparePositions(result.append.position, lastWrite) > 0) lastWrite = result.append.position;
  return result;
}
async function settled() {
  expect(await runner.waitFor(lastWrite, 10_000)).toBe(true);
}
const entitlementsOf = async (appUserId: string, at: number) =>
  customerEntitlementsAt(await findCustomerPurchases(db.pool, appUserId), catalog, day(at)).entitlements;

describe('purchases read model', () => {
  it("shows a customer's entitlement once the projection has caught up with the append", async () => {
    await link('A', 'alice');
    const result = await record('A', started(period('t1', 0, 30)));
    expect(result.outcome).toBe('appended');
    if (result.outcome === 'no_change') throw new Error('unreachable');
    expect(await runner.waitFor(result.append.position, 10_000)).toBe(true);
    expect(await entitlementsOf('alice', 10)).toEqual([
      expect.objectContaining({ id: 'premium', active: true, expiresAt: day(30), productId: 'premium_monthly' }),
    ]);
    expect(await entitlementsOf('bob', 10)).toEqual([]);
  });

  it('records a duplicated notification once', async () => {
    await record('A', started(period('t1', 0, 30)));
    const again = await record('A', started(period('t1', 0, 30)));
    expect(again.outcome).toBe('already_recorded');
    expect(await eventStore.readStream(purchaseStreamId(appleKey('A')))).toHaveLength(1);
  });

  it('reaches the same read model whatever order the notifications arrive in', async () => {
    const lifecycle = [
      started(period('t1', 0, 30)),
      renewed(period('t2', 30, 60)),
      fact('AutoRenewTurnedOff', 40, {}),
      fact('TransactionRefunded', 45, { transactionId: 't2', refundedAt: day(45) }),
      renewed(period('t3', 60, 90)),
      fact('RenewalFailed', 90, { gracePeriodEndsAt: day(96) }),
    ];
    const expected = JSON.parse(JSON.stringify(foldPurchase(lifecycle)));
    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray(lifecycle, { minLength: lifecycle.length }),
        fc.integer({ min: 0, max: 5 }),
        async (order, repeat) => {
          const purchaseId = `P-${++notification}`;
          for (const f of [...order, order[repeat]!]) await record(purchaseId, f);
          await settled();
          const { rows } = await db.pool.query('SELECT state FROM purchases WHERE purchase_id = $1', [purchaseId]);
          expect(rows[0].state).toEqual(expected);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('reports purchases of products the catalog does not know', async () => {
    await record('A', started(period('t1', 0, 30, { productId: 'com.example.pulse.mystery' })));
    await settled();
    expect(await unknownStoreProducts(db.pool)).toEqual([
      { store: 'app_store', storeProductId: 'com.example.pulse.mystery', purchases: 1 },
    ]);
  });

  it('skips events of types it does not know and keeps going', async () => {
    await eventStore.append(
      purchaseStreamId(appleKey('A')),
      [{ id: '00000000-0000-4000-8000-000000000001', type: 'FromTheFuture', data: { x: 1 }, metadata: {} }],
      { expectedVersion: 'no_stream' },
    );
    await link('A', 'alice');
    await record('A', started(period('t1', 0, 30)));
    await settled();
    expect(await entitlementsOf('alice', 1)).toHaveLength(1);
  });
});

describe('projection runner', () => {
  /**
   * A deliberately non-idempotent projection: it counts, so an event applied twice shows.
   * It can fail once, in the middle of a batch, or at COMMIT, after the runner has
   * written the new checkpoint (a deferred constraint that the batch violates).
   */
  function countingProjection(failOnce?: { afterEvents: number } | 'at_commit') {
    let failed = false;
    return {
      name: 'event_counter',
      async apply(events: readonly { id: string }[], tx: import('pg').PoolClient) {
        if (failOnce === 'at_commit' && !failed) {
          failed = true;
          await tx.query('INSERT INTO commit_bomb (k) VALUES (1), (1)');
        }
        for (const [index, event] of events.entries()) {
          if (failOnce && failOnce !== 'at_commit' && !failed && index === failOnce.afterEvents) {
            failed = true;
            throw new Error('crash in the middle of a batch');
          }
          await tx.query(
            `INSERT INTO counted (event_id, times) VALUES ($1, 1)
             ON CONFLICT (event_id) DO UPDATE SET times = counted.times + 1`,
            [event.id],
          );
        }
      },
      async reset(tx: import('pg').PoolClient) {
        await tx.query('TRUNCATE counted');
      },
    };
  }
  const counterRunner = (p: ReturnType<typeof countingProjection>) =>
    new ProjectionRunner({
      pool: db.pool,
      eventStore,
      projection: p,
      batchSize: 7,
      idlePollMs: 5,
      logger: silentLogger,
    });

  beforeEach(async () => {
    await db.pool.query('CREATE TABLE IF NOT EXISTS counted (event_id uuid PRIMARY KEY, times int NOT NULL)');
    await db.pool.query(
      'CREATE TABLE IF NOT EXISTS commit_bomb (k int, CONSTRAINT once UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)',
    );
    await db.pool.query('TRUNCATE counted');
    for (let i = 0; i < 30; i++) await record(`C${i}`, started(period(`t${i}`, 0, 30)));
  });

  it('applies every event exactly once, even when a batch fails half way', async () => {
    const failing = counterRunner(countingProjection({ afterEvents: 3 }));
    await failing.start();
    expect(await failing.waitFor(lastWrite, 10_000)).toBe(true);
    expect(failing.status().failing).toBeUndefined();
    await failing.stop();
    const { rows } = await db.pool.query('SELECT count(*)::int AS events, max(times) AS most FROM counted');
    expect(rows[0]).toEqual({ events: 30, most: 1 });
  });

  it('applies every event exactly once when the batch fails at commit, after the checkpoint was written', async () => {
    const failing = counterRunner(countingProjection('at_commit'));
    await failing.start();
    expect(await failing.waitFor(lastWrite, 10_000)).toBe(true);
    await failing.stop();
    const { rows } = await db.pool.query('SELECT count(*)::int AS events, max(times) AS most FROM counted');
    expect(rows[0]).toEqual({ events: 30, most: 1 });
  });

  it('lets two instances share a projection without applying an event twice', async () => {
    const a = counterRunner(countingProjection());
    const b = counterRunner(countingProjection());
    await Promise.all([a.start(), b.start()]);
    expect(await a.waitFor(lastWrite, 10_000)).toBe(true);
    expect(await b.waitFor(lastWrite, 10_000)).toBe(true);
    await Promise.all([a.stop(), b.stop()]);
    const { rows } = await db.pool.query('SELECT count(*)::int AS events, max(times) AS most FROM counted');
    expect(rows[0]).toEqual({ events: 30, most: 1 });
  });

  it('catches up to the newest committed event, waiting out an older open transaction', async () => {
    await runner.stop(); // catch-up alone, as `subledger rebuild-projections` runs it
    const older = await db.pool.connect();
    try {
      await older.query('BEGIN');
      await older.query('SELECT pg_current_xact_id()'); // began before the append, still open
      await record('held-back', started(period('held', 0, 30)));
      const rebuild = newRunner();
      const catchingUp = rebuild.catchUp();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await older.query('ROLLBACK');
      await catchingUp;
      expect(comparePositions(rebuild.status().checkpoint, lastWrite)).toBe(0);
    } finally {
      older.release();
    }
  });

  it('answers waitFor with false when the position is not reached in time', async () => {
    const idle = counterRunner(countingProjection());
    expect(await idle.waitFor({ commit: 10n ** 15n, sequence: 1n }, 50)).toBe(false);
  });
});

describe('repairs', () => {
  it('re-folds one customer from the event store, showing the difference first', async () => {
    await link('A', 'alice');
    await record('A', started(period('t1', 0, 30)));
    await settled();
    await runner.stop();
    // Someone broke the read model.
    await db.pool.query(`UPDATE purchases SET will_renew = false, access_until = NULL`);

    const deps = { pool: db.pool, eventStore, catalog, logger: silentLogger };
    const dryRun = await refoldCustomer(deps, 'alice', { dryRun: true });
    expect(dryRun.changed).toHaveLength(1);
    expect(dryRun.changed[0]).toMatchObject({ before: { willRenew: false }, after: { willRenew: true } });
    expect((await db.pool.query('SELECT access_until FROM purchases')).rows[0].access_until).toBeNull();

    await refoldCustomer(deps, 'alice');
    expect((await db.pool.query('SELECT access_until FROM purchases')).rows[0].access_until).toEqual(new Date(day(30)));
    expect((await refoldCustomer(deps, 'alice')).changed).toEqual([]);
    runner = newRunner();
    await runner.start();
  });

  it('rebuilds the read model from zero to the same rows', async () => {
    await link('A', 'alice');
    await record('A', started(period('t1', 0, 30)), fact('AutoRenewTurnedOff', 3, {}));
    await link('B', 'bob');
    await record('B', started(period('t2', 0, 30)));
    await settled();
    const snapshot = async () =>
      (
        await db.pool.query(
          'SELECT stream_id, app_user_id, state, will_renew, access_until FROM purchases ORDER BY stream_id',
        )
      ).rows;
    const before = await snapshot();

    // The service's runner, polling every 10 ms, would fill the read model again at once:
    // stopped while the reset is checked, and started again to take turns with the CLI's.
    await runner.stop();
    await resetProjection(db.pool, projection());
    expect(await snapshot()).toEqual([]);
    runner = newRunner();
    await runner.start();
    // Like the CLI: a runner of its own catches up, taking turns with the service's.
    await newRunner(1).catchUp();
    expect(await snapshot()).toEqual(before);
  });
});
