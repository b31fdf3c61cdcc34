import { loadCatalog } from '../config/catalog-file.ts';
import { loadConfig, type Config } from '../config/config.ts';
import { migrate } from '../db/migrate.ts';
import type { Pool } from '../db/pool.ts';
import type { Catalog } from '../domain/catalog.ts';
import { PostgresEventStore } from '../eventstore/postgres/postgres-event-store.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { purchasesProjection } from '../projections/entitlements/purchases-projection.ts';
import type { Projection } from '../projections/projection.ts';
import { openDatabase } from '../runtime/database.ts';

/** What a CLI command works with: the service's own database, catalog and projection. */
export interface CliServices {
  readonly config: Config;
  readonly logger: Logger;
  readonly catalog: Catalog;
  readonly pool: Pool;
  readonly eventStore: PostgresEventStore;
  readonly projection: Projection;
}

/** Opens the services from the same environment the service reads, runs `work`, closes them. */
export async function withCliServices(work: (services: CliServices) => Promise<void>): Promise<void> {
  const config = loadConfig();
  // Commands print their own results; the log only speaks up for problems unless asked.
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const catalog = await loadCatalog(config.catalogPath);
  const database = await openDatabase(config.database, logger);
  try {
    await migrate(database.pool);
    const eventStore = new PostgresEventStore(database.pool);
    const projection = purchasesProjection({ catalog, logger });
    await work({ config, logger, catalog, pool: database.pool, eventStore, projection });
  } finally {
    await database.close();
  }
}
