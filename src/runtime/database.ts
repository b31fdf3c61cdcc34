import type { Config } from '../config/config.ts';
import { createPool, type Pool } from '../db/pool.ts';
import type { Logger } from '../observability/logger.ts';

export interface Database {
  readonly pool: Pool;
  /** Closes the pool, and stops the embedded server when we started it. */
  close(): Promise<void>;
}

/** Connects to DATABASE_URL, or starts the embedded PostgreSQL (the zero-setup default). */
export async function openDatabase(config: Config['database'], logger: Logger): Promise<Database> {
  if (config.kind === 'external') {
    const pool = createPool(config.url, config.poolSize);
    return { pool, close: () => pool.end() };
  }
  logger.info({ dataDir: config.dataDir, port: config.port }, 'starting the embedded PostgreSQL');
  // Loaded only here: a deployment on its own PostgreSQL (the container image) has no binaries for it.
  const { startEmbeddedPostgres } = await import('../db/embedded-postgres.ts');
  const server = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    port: config.port,
    onLog: (line) => logger.debug({ postgres: line.trim() }),
    onLeftRunning: (pid) =>
      logger.warn(
        { pid, dataDir: config.dataDir },
        'the embedded PostgreSQL was left running by a previous run that did not stop it: stopping it to start afresh',
      ),
  });
  const pool = createPool(server.url, config.poolSize);
  return {
    pool,
    async close() {
      await pool.end();
      await server.stop();
    },
  };
}
