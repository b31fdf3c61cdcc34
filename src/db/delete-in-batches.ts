import type { Queryable } from './pool.ts';

/**
 * Runs `text`, a DELETE whose last parameter is how many rows it may delete, until it
 * deletes fewer: each batch is a transaction of its own, so a purge of millions of rows
 * neither holds one long transaction nor writes all its WAL at once. Returns the total.
 */
export async function deleteInBatches(
  db: Queryable,
  text: string,
  values: readonly unknown[],
  batch: number,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { rowCount } = await db.query(text, [...values, batch]);
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return deleted;
  }
}
