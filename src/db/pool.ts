import pg from 'pg';

// Return bigint columns as JS bigint-safe strings are parsed where they are used;
// timestamps stay Date objects. JSON columns arrive parsed.
export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: a pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export function createPool(url: string, size: number, applicationName = 'subledger'): Pool {
  const pool = new pg.Pool({ connectionString: url, max: size, application_name: applicationName });
  // An idle client losing its connection (database restart) must not crash the process;
  // the next query on the pool gets a fresh connection.
  pool.on('error', () => {});
  return pool;
}
