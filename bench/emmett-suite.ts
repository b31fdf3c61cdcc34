import { SQL } from '@event-driven-io/dumbo';
import { STREAM_DOES_NOT_EXIST, type Event } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore, postgreSQLProjection } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { inParallel, rate, type BenchPostgres } from './support.ts';
import { WORKLOAD, type EngineSuite } from './workload.ts';

type Incremented = Event<'Incremented', { by: number }>;

/**
 * The baseline: Emmett's PostgreSQL event store (the npm package, used as its
 * documentation shows) on the same server and workload.
 */
export function emmettSuite(postgres: BenchPostgres): EngineSuite {
  async function withStore<T>(
    tag: string,
    poolSize: number,
    work: (store: ReturnType<typeof getPostgreSQLEventStore>, url: string) => Promise<T>,
  ) {
    const url = await postgres.freshDatabase(tag);
    const pool = new pg.Pool({ connectionString: url, max: poolSize });
    const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } });
    try {
      await store.schema.migrate();
      return await work(store, url);
    } finally {
      await store.close();
      await pool.end().catch(() => {});
      await postgres.dropDatabase(url);
    }
  }

  async function writeStreams(
    store: ReturnType<typeof getPostgreSQLEventStore>,
    prefix: string,
    writers: number,
    total: number,
  ) {
    await inParallel(writers, total, async (writer, count) => {
      for (let i = 0; i < count; i++) {
        const version = i % WORKLOAD.eventsPerStream;
        await store.appendToStream<Incremented>(
          `${prefix}-${writer}-${Math.floor(i / WORKLOAD.eventsPerStream)}`,
          [{ type: 'Incremented', data: { by: 1 } }],
          { expectedStreamVersion: version === 0 ? STREAM_DOES_NOT_EXIST : BigInt(version) },
        );
      }
    });
  }

  return {
    name: 'Emmett 0.42.0',

    appends: (writers, total) =>
      withStore(`emmett_append${writers}`, writers + 2, async (store) => {
        await writeStreams(store, 'warmup', writers, WORKLOAD.warmupAppends);
        return rate(total, () => writeStreams(store, 'measured', writers, total));
      }),

    catchUpCounter: () =>
      withStore('emmett_counter', 4, async (store, url) => {
        const events = WORKLOAD.catchUpStreams * WORKLOAD.eventsPerStream;
        const batch: Incremented[] = Array.from({ length: WORKLOAD.eventsPerStream }, () => ({
          type: 'Incremented',
          data: { by: 1 },
        }));
        // One writer on purpose: Emmett 0.42.0's consumer can skip events written by concurrent writers.
        for (let s = 0; s < WORKLOAD.catchUpStreams; s++) {
          await store.appendToStream(`p-${s}`, batch, { expectedStreamVersion: STREAM_DOES_NOT_EXIST });
        }
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query('CREATE TABLE counted (stream_id text PRIMARY KEY, n int NOT NULL)');
        const consumer = store.consumer<Incremented>({
          stopWhen: { noMessagesLeft: true },
          pulling: { batchSize: WORKLOAD.batchSize },
        });
        consumer.projector<Incremented>({
          projection: postgreSQLProjection<Incremented>({
            name: 'counter',
            canHandle: ['Incremented'],
            handle: async (incremented, { execute }) => {
              for (const e of incremented) {
                await execute.command(
                  SQL`INSERT INTO counted (stream_id, n) VALUES (${e.metadata.streamName}, 1)
                      ON CONFLICT (stream_id) DO UPDATE SET n = counted.n + 1`,
                );
              }
            },
          }),
        });
        const measured = await rate(events, () => consumer.start());
        await consumer.close();
        const { rows } = await client.query<{ total: number }>('SELECT coalesce(sum(n), 0)::int AS total FROM counted');
        await client.end();
        if (rows[0]!.total !== events)
          throw new Error(`Emmett's catch-up applied ${rows[0]!.total} of ${events} events`);
        return measured;
      }),
  };
}
