import type { Pool, PoolClient } from './pool.ts';

/** The one way Subledger runs a database transaction: commit on success, roll back on any error. */
export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let connectionLost = false;
  // A connection dropped between two statements (server restart) is reported by the
  // next statement; without a listener the client's 'error' event would crash the process.
  const onConnectionError = () => {
    connectionLost = true;
  };
  client.on('error', onConnectionError);
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
    client.off('error', onConnectionError);
    // A broken client is destroyed instead of going back to the pool.
    client.release(connectionLost);
  }
}

/**
 * A transaction whose statements PostgreSQL plans without sequential or bitmap scans or
 * sorts where an index gives the order: for reading the head of a queue, which must cost
 * what it takes, not what is waiting. The planner cannot know how much is waiting (its
 * statistics lag behind a queue that fills in seconds), and a plan made from them, kept by
 * a prepared statement, read the whole queue for every claim. The intake queue's receive
 * gets the same from its function's settings (migration 0024).
 */
export function withIndexWalks<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await client.query(
      'SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off',
    );
    return work(client);
  });
}
