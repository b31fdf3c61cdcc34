import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolClient } from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { pagesRead } from '../support/plan-pages.ts';

/*
 * append_to_streams (src/db/migrations/0026) commits a group of appends in one statement
 * where it can. Whatever path it takes, each append must get exactly the outcome it would
 * have had alone, run in order after those before it: checked here against
 * append_to_stream called once per append, on the same ledger, in a transaction that is
 * then rolled back.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

interface Append {
  readonly stream: string;
  readonly expected: number | null;
  readonly events: readonly { id: string; type: string; data: object; metadata: object }[];
}

/** Event ids from a small pool, so appends meet events already stored (in their stream or another). */
const EVENT_IDS = Array.from({ length: 12 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
const STREAMS = ['s0', 's1', 's2', 's3', 's4', 's5'];

const eventsOf = (ids: readonly string[]) =>
  ids.map((id) => ({ id, type: 'Happened', data: { id, note: 'é "quoted" \\' }, metadata: { by: 'test' } }));

const anAppend = (stream: fc.Arbitrary<string>, ids: fc.Arbitrary<string[]>): fc.Arbitrary<Append> =>
  fc.record({
    stream,
    expected: fc.constantFrom(null, -1, -2, 0, 1, 2, 3),
    events: ids.map(eventsOf),
  });

const someIds = fc.uniqueArray(fc.constantFrom(...EVENT_IDS), { minLength: 1, maxLength: 3 });

/** Appends that share no stream and no event id: the one-statement path. */
const independentGroup = fc
  .uniqueArray(fc.constantFrom(...STREAMS), { minLength: 1, maxLength: STREAMS.length })
  .chain((streams) =>
    fc
      .shuffledSubarray(EVENT_IDS, { minLength: streams.length, maxLength: EVENT_IDS.length })
      .chain((ids) =>
        fc.tuple(...streams.map((s, i) => anAppend(fc.constant(s), fc.constant(spread(ids, i, streams.length))))),
      ),
  );
/** Appends that may share streams and event ids: run one by one. */
const anyGroup = fc.array(anAppend(fc.constantFrom(...STREAMS), someIds), { minLength: 1, maxLength: 8 });
/** What the ledger holds before: streams already written, some events already stored. */
const ledgerBefore = fc.array(anAppend(fc.constantFrom(...STREAMS), someIds), { maxLength: 6 });

/** The i-th of n disjoint, non-empty slices of ids. */
function spread(ids: readonly string[], i: number, n: number): string[] {
  return ids.filter((_, j) => j % n === i);
}

describe('append_to_streams', () => {
  it('gives each append of a group the outcome it would have had alone, in order', async () => {
    const client = await db.pool.connect();
    try {
      await fc.assert(
        fc.asyncProperty(ledgerBefore, fc.oneof(independentGroup, anyGroup), async (before, group) => {
          const together = await inRolledBackTransaction(client, before, () => asOneGroup(client, group));
          const alone = await inRolledBackTransaction(client, before, () => oneByOne(client, group));
          expect(together).toEqual(alone);
        }),
        { numRuns: 300 },
      );
    } finally {
      client.release();
    }
  });

  it('reads a few pages of the ledger for a group, however large the ledger and whatever plan was kept', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('TRUNCATE events');
      // Plans made while the ledger is empty, kept by this session (as a pooled connection keeps them).
      for (let i = 0; i < 12; i++)
        await client.query('SELECT * FROM append_to_streams($1::jsonb)', [group(`warm${i}`)]);
      // Then the ledger grows, faster than statistics follow.
      await client.query(`INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata)
        SELECT gen_random_uuid(), 'bulk-' || (n / 10), n % 10, 'Happened', '{}', '{}'
        FROM generate_series(0, 199999) n`);
      // One group first, unmeasured: a statement's first run after the ledger grew can pay
      // one-off costs besides its plan (a clean-clone CI run once read 1,725 pages here, where
      // every local run reads about 540). The plan kept from the empty ledger is still the one
      // measured next.
      await client.query('SELECT * FROM append_to_streams($1::jsonb)', [group('grown')]);
      // Should it read too much, the plans the function ran say where: auto_explain sends
      // each, with its pages, to this connection as a notice.
      const plans: string[] = [];
      const keep = (notice: { message?: string }) => void plans.push(notice.message ?? '');
      await client.query(`LOAD 'auto_explain'`);
      await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
        SET auto_explain.log_buffers = on; SET auto_explain.log_nested_statements = on; SET client_min_messages = log`);
      client.on('notice', keep);
      const { pages, rows } = await pagesRead(client, 'SELECT * FROM append_to_streams($1::jsonb)', [group('big')]);
      client.off('notice', keep);
      expect(rows).toBe(20);
      // Each append probes its events' ids and its stream's last version and inserts a few
      // rows with their index entries: tens of pages, where a scan of the ledger is thousands.
      expect(pages, plans.join('\n\n')).toBeLessThan(20 * 40);
    } finally {
      await client.query('RESET client_min_messages; SET auto_explain.log_min_duration = -1');
      client.release();
    }
  });
});

/** Twenty appends to new streams, two events each. */
function group(prefix: string): string {
  return JSON.stringify(
    Array.from({ length: 20 }, (_, i) => ({
      stream: `${prefix}-${i}`,
      expected: -1,
      events: eventsOf([crypto.randomUUID(), crypto.randomUUID()]),
    })),
  );
}

async function inRolledBackTransaction<T>(
  client: PoolClient,
  before: readonly Append[],
  work: () => Promise<T>,
): Promise<{ result: T | string; ledger: unknown[] }> {
  await client.query('BEGIN');
  try {
    await client.query('TRUNCATE events');
    for (const append of before) {
      await client.query('SAVEPOINT setup');
      try {
        await client.query('SELECT * FROM append_to_stream($1, $2, $3::jsonb)', [
          append.stream,
          append.expected,
          JSON.stringify(append.events),
        ]);
      } catch {
        await client.query('ROLLBACK TO SAVEPOINT setup'); // a setup append that breaks a rule is left out
      }
    }
    await client.query('SAVEPOINT work');
    let result: T | string;
    try {
      result = await work();
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT work');
      result = `failed: ${(error as { constraint?: string }).constraint ?? (error as Error).message}`;
    }
    return { result, ledger: await ledger(client) };
  } finally {
    await client.query('ROLLBACK');
  }
}

async function asOneGroup(client: PoolClient, group: readonly Append[]) {
  const { rows } = await client.query('SELECT * FROM append_to_streams($1::jsonb) ORDER BY ordinal', [
    JSON.stringify(group),
  ]);
  return Promise.all(rows.map((row) => comparable(client, row)));
}

async function oneByOne(client: PoolClient, group: readonly Append[]) {
  const results = [];
  for (const [i, append] of group.entries()) {
    const { rows } = await client.query('SELECT * FROM append_to_stream($1, $2, $3::jsonb)', [
      append.stream,
      append.expected,
      JSON.stringify(append.events),
    ]);
    results.push(...(await Promise.all(rows.map((row) => comparable(client, { ordinal: String(i + 1), ...row })))));
  }
  return results;
}

/**
 * An append's answer, with its position named by the event there (stream and version):
 * identities are not reset by a rollback, so the two runs number their events differently.
 */
async function comparable(client: PoolClient, row: Record<string, unknown>) {
  const { rows } = await client.query(
    'SELECT stream_id, stream_version FROM events WHERE transaction_id::text = $1 AND global_position = $2',
    [row.commit_position, row.sequence_position],
  );
  return {
    ordinal: Number(row.ordinal),
    outcome: row.outcome,
    streamVersion: Number(row.stream_version),
    position: row.commit_position === null ? null : (rows[0] ?? 'points at no event'),
    alreadyRecorded: row.already_recorded,
  };
}

async function ledger(client: PoolClient): Promise<unknown[]> {
  const { rows } = await client.query(
    'SELECT stream_id, stream_version, event_id, type, data, metadata FROM events ORDER BY global_position',
  );
  return rows;
}
