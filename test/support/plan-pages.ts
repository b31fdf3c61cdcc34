import type { Pool, Queryable } from '../../src/db/pool.ts';

/**
 * Runs `work` while a transaction that began before it stays open, as under load: rows it
 * updates or deletes are not yet dead to everyone, so index scans cannot skip them.
 */
export async function whileAnOlderTransactionIsOpen<T>(pool: Pool, work: () => Promise<T>): Promise<T> {
  const older = await pool.connect();
  try {
    await older.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await older.query('SELECT 1'); // the snapshot is taken here
    return await work();
  } finally {
    await older.query('COMMIT');
    older.release();
  }
}

/** Runs a statement under EXPLAIN (ANALYZE, BUFFERS): the rows it gave and the pages it read. */
export async function pagesRead(
  client: Queryable,
  statement: string,
  values: readonly unknown[] = [],
): Promise<{ rows: number; pages: number }> {
  const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${statement}`,
    [...values],
  );
  const [{ Plan: plan }] = rows[0]!['QUERY PLAN'];
  return { rows: plan['Actual Rows'], pages: plan['Shared Hit Blocks'] + (plan['Shared Read Blocks'] ?? 0) };
}

interface PlanNode {
  'Actual Rows': number;
  'Shared Hit Blocks': number;
  'Shared Read Blocks'?: number;
}
