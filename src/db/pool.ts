import pg from 'pg';

// pg's defaults: bigint columns arrive as strings (parsed where they are used),
// timestamps as Date objects, JSON columns parsed.
export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: a pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export function createPool(url: string, size: number, applicationName = 'subledger'): Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: size,
    application_name: applicationName,
    // A pool exhausted for this long is a bug or an outage: fail the query rather than hang.
    connectionTimeoutMillis: 10_000,
  });
  // An idle client losing its connection (database restart) must not crash the process;
  // the next query on the pool gets a fresh connection.
  pool.on('error', () => {});
  return pool;
}
