import type { Clock } from '../domain/clock.ts';
import { systemClock } from '../runtime/system-clock.ts';
import { detachedReadModelView, type ReadModelView } from '../application/read-model-view.ts';
import type { Config } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import type { Catalog } from '../domain/catalog.ts';
import type { ServiceEventStore } from '../eventstore/event-store-of.ts';
import type { Logger } from '../observability/logger.ts';
import type { Projection } from '../projections/projection.ts';
import type { CliIo } from './io.ts';

/** What a CLI command works with: the service's own database, catalog and projection. */
export interface CliServices {
  readonly config: Config;
  readonly logger: Logger;
  readonly catalog: Catalog;
  readonly pool: Pool;
  readonly eventStore: ServiceEventStore;
  readonly projection: Projection;
  readonly clock: Clock;
  /** No projection runs in the CLI: a running service shows what a command recorded within moments. */
  readonly view: ReadModelView;
}

/**
 * Opens the services from the environment the service reads, runs `work`, closes them.
 * Loaded when a command runs, not when the program is built: `--help` and the commands
 * that need no database never load a driver.
 */
export async function withCliServices(io: CliIo, work: (services: CliServices) => Promise<void>): Promise<void> {
  const [{ loadConfig }, { loadCatalog }, { migrate }, { openDatabase }, { createLogger }] = await Promise.all([
    import('../config/config.ts'),
    import('../config/catalog-file.ts'),
    import('../db/migrate.ts'),
    import('../runtime/database.ts'),
    import('../observability/logger.ts'),
  ]);
  const config = loadConfig(io.env);
  // Commands print their own results on stdout; the log only speaks up for problems unless
  // asked, on stderr, so that it never mixes with a `--json` answer.
  const level = config.logLevel === 'info' ? 'warn' : config.logLevel;
  const logger = createLogger(level, config.logFormat, { write: (line: string) => io.stderr(line) });
  const catalog = await loadCatalog(config.catalogPath);
  const database = await openDatabase(config.database, logger);
  try {
    const [, { eventStoreOf }, { purchasesProjection }] = await Promise.all([
      migrate(database.pool),
      import('../eventstore/event-store-of.ts'),
      import('../projections/entitlements/purchases-projection.ts'),
    ]);
    const eventStore = await eventStoreOf(config.eventStore, database.pool);
    const projection = purchasesProjection({ catalog, logger });
    const pool = database.pool;
    const [clock, view] = [systemClock, detachedReadModelView];
    try {
      await work({ config, logger, catalog, pool, eventStore, projection, clock, view });
    } finally {
      await eventStore.close?.();
    }
  } finally {
    await database.close();
  }
}
