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
