import type { Pool, PoolClient } from './pool.ts';

/** The one way Subledger runs a database transaction: commit on success, roll back on any error. */
export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let connectionLost = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      connectionLost = true;
    });
    throw error;
  } finally {
    // A client whose ROLLBACK failed is broken: destroy it instead of pooling it.
    client.release(connectionLost);
  }
}
