import { randomUUID } from 'node:crypto';
import { migrate } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import { parseCatalog } from '../src/config/catalog-file.ts';
import type { PurchaseEvent } from '../src/domain/purchase/events.ts';
import { purchaseStreamId } from '../src/domain/purchase/purchase-key.ts';
import { deterministicEventId } from '../src/eventstore/command-handler.ts';
import type { NewEvent } from '../src/eventstore/event-store.ts';
import { PostgresEventStore } from '../src/eventstore/postgres/postgres-event-store.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { purchasesProjection } from '../src/projections/entitlements/purchases-projection.ts';
import type { Projection } from '../src/projections/projection.ts';
import { ProjectionRunner } from '../src/projections/runner.ts';
import { readFileSync } from 'node:fs';
import { inParallel, rate, type BenchPostgres } from './support.ts';
import { WORKLOAD, type EngineSuite } from './workload.ts';

export function subledgerSuite(postgres: BenchPostgres): EngineSuite & { catchUpPurchases(): Promise<number> } {
  async function withDatabase<T>(
    tag: string,
    poolSize: number,
    work: (store: PostgresEventStore, pool: ReturnType<typeof createPool>) => Promise<T>,
  ) {
    const url = await postgres.freshDatabase(tag);
    const pool = createPool(url, poolSize);
    try {
      await migrate(pool);
      return await work(new PostgresEventStore(pool), pool);
    } finally {
      await pool.end();
      await postgres.dropDatabase(url);
    }
  }

  async function writeStreams(store: PostgresEventStore, prefix: string, writers: number, total: number) {
    await inParallel(writers, total, async (writer, count) => {
      for (let i = 0; i < count; i++) {
        const version = i % WORKLOAD.eventsPerStream;
        const stream = `${prefix}-${writer}-${Math.floor(i / WORKLOAD.eventsPerStream)}`;
        const event: NewEvent = { id: randomUUID(), type: 'Incremented', data: { by: 1 }, metadata: {} };
        await store.append(stream, [event], { expectedVersion: version === 0 ? 'no_stream' : version - 1 });
      }
    });
  }

  async function catchUp(
    pool: ReturnType<typeof createPool>,
    store: PostgresEventStore,
    projection: Projection,
    events: number,
  ) {
    const runner = new ProjectionRunner({
      pool,
      eventStore: store,
      projection,
      batchSize: WORKLOAD.batchSize,
      idlePollMs: 0,
      logger: silentLogger,
    });
    let applied = 0;
    const measured = await rate(events, async () => (applied = await runner.catchUp()));
    if (applied !== events) throw new Error(`catch-up applied ${applied} of ${events} events`);
    return measured;
  }

  return {
    name: 'Subledger',

    appends: (writers, total) =>
      withDatabase(`subledger_append${writers}`, writers + 2, async (store) => {
        await writeStreams(store, 'warmup', writers, WORKLOAD.warmupAppends);
        return rate(total, () => writeStreams(store, 'measured', writers, total));
      }),

    catchUpCounter: () =>
      withDatabase('subledger_counter', 4, async (store, pool) => {
        const events = WORKLOAD.catchUpStreams * WORKLOAD.eventsPerStream;
        for (let s = 0; s < WORKLOAD.catchUpStreams; s++) {
          const batch = Array.from({ length: WORKLOAD.eventsPerStream }, () => ({
            id: randomUUID(),
            type: 'Incremented',
            data: { by: 1 },
            metadata: {},
          }));
          await store.append(`p-${s}`, batch, { expectedVersion: 'no_stream' });
        }
        await pool.query('CREATE TABLE counted (stream_id text PRIMARY KEY, n int NOT NULL)');
        const counter: Projection = {
          name: 'counter',
          // The whole batch in one statement: what the batch-at-a-time projection API is for.
          async apply(batch, tx) {
            await tx.query(
              `INSERT INTO counted (stream_id, n)
               SELECT stream_id, count(*) FROM unnest($1::text[]) AS stream_id GROUP BY stream_id
               ON CONFLICT (stream_id) DO UPDATE SET n = counted.n + excluded.n`,
              [batch.map((e) => e.streamId)],
            );
          },
          reset: async (tx) => void (await tx.query('TRUNCATE counted')),
        };
        return catchUp(pool, store, counter, events);
      }),

    catchUpPurchases: () =>
      withDatabase('subledger_purchases', 4, async (store, pool) => {
        const catalog = parseCatalog(readFileSync(new URL('../catalog/sample-fitness.json', import.meta.url), 'utf8'));
        const events = WORKLOAD.catchUpStreams * WORKLOAD.eventsPerStream;
        for (let p = 0; p < WORKLOAD.catchUpStreams; p++) {
          const key = { store: 'app_store', environment: 'production', purchaseId: `${1_000_000 + p}` } as const;
          const streamId = purchaseStreamId(key);
          const lifecycle = purchaseLifecycle(p);
          await store.append(
            streamId,
            lifecycle.map((event) => ({
              id: deterministicEventId(streamId, event),
              type: event.type,
              data: event.data,
              metadata: {},
            })),
            { expectedVersion: 'no_stream' },
          );
        }
        return catchUp(pool, store, purchasesProjection({ catalog, logger: silentLogger }), events);
      }),
  };
}

/** Ten facts of a realistic monthly subscription: linked, bought, seven renewals, auto-renew off. */
function purchaseLifecycle(n: number): PurchaseEvent[] {
  const day = (d: number) => new Date(Date.UTC(2026, 0, 1) + d * 86_400_000).toISOString();
  const period = (i: number) => ({
    transactionId: `${n}-${i}`,
    productId: 'com.example.pulse.premium.monthly',
    purchasedAt: day(i * 30),
    expiresAt: day(i * 30 + 30),
    periodType: i === 0 ? ('trial' as const) : ('normal' as const),
    ownership: 'purchased' as const,
  });
  return [
    { type: 'PurchaseLinkedToAppUser', data: { appUserId: `user-${n}`, via: 'app_account_token', observedAt: day(0) } },
    { type: 'SubscriptionStarted', data: { transaction: period(0), observedAt: day(0) } },
    ...Array.from({ length: 7 }, (_, i): PurchaseEvent => ({
      type: 'SubscriptionRenewed',
      data: { transaction: period(i + 1), observedAt: day((i + 1) * 30) },
    })),
    { type: 'AutoRenewTurnedOff', data: { observedAt: day(230) } },
  ];
}
