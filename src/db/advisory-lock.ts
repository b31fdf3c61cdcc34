import type { Pool } from './pool.ts';

/**
 * Runs `work` only if no other instance on the database is running the job named
 * `name` (a session advisory lock, held on a connection of its own for as long as the
 * work takes); undefined when another instance has the turn.
 */
export async function whenOurTurn<T>(pool: Pool, name: string, work: () => Promise<T>): Promise<T | undefined> {
  const lock = await pool.connect();
  try {
    const { rows } = await lock.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS ok`, [name]);
    if (!rows[0]!.ok) return undefined;
    try {
      return await work();
    } finally {
      await lock.query(`SELECT pg_advisory_unlock(hashtext($1))`, [name]);
    }
  } finally {
    lock.release();
  }
}
