import { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { loadCatalog } from '../config/catalog-file.ts';
import { ConfigError, loadConfig, type Config } from '../config/config.ts';
import { migrate } from '../db/migrate.ts';
import { PostgresEventStore } from '../eventstore/postgres/postgres-event-store.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { purchasesProjection } from '../projections/entitlements/purchases-projection.ts';
import { refoldCustomer } from '../projections/entitlements/refold-customer.ts';
import { resetProjection } from '../projections/rebuild.ts';
import { ProjectionRunner } from '../projections/runner.ts';
import { openDatabase } from '../runtime/database.ts';

/** `subledger <command>`: operations on the same database the service uses (configured the same way). */
export function cli(): Command {
  const program = new Command('subledger')
    .description('Subledger operations. Configured by the same environment variables as the service.')
    .showHelpAfterError();

  program
    .command('rebuild-projections')
    .description('Empty the entitlement read model and rebuild it from every event in the store')
    .action(() =>
      withServices(async ({ config, pool, logger, projection, eventStore }) => {
        await resetProjection(pool, projection);
        const runner = new ProjectionRunner({
          pool,
          eventStore,
          projection,
          batchSize: config.projections.batchSize,
          idlePollMs: 0,
          logger,
        });
        const total = await countEvents(pool);
        const bar = new SingleBar(
          {
            format: 'rebuilding [{bar}] {value}/{total} events | {eta_formatted} left | {rate} events/s',
            hideCursor: true,
          },
          Presets.shades_classic,
        );
        const started = Date.now();
        bar.start(total, 0, { rate: 0 });
        let done = 0;
        await runner.catchUp((applied) => {
          done += applied;
          bar.update(done, { rate: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)) });
        });
        bar.stop();
        console.log(`Rebuilt "${projection.name}" from ${done} events.`);
      }),
    );

  program
    .command('refold')
    .description("Re-fold one customer's purchases from the event store and fix their read-model rows")
    .argument('<appUserId>', 'the app user id')
    .option('--dry-run', 'only show what would change')
    .option('--json', 'print JSON')
    .action((appUserId: string, options: { dryRun?: boolean; json?: boolean }) =>
      withServices(async ({ pool, eventStore, catalog, logger }) => {
        const result = await refoldCustomer({ pool, eventStore, catalog, logger }, appUserId, {
          dryRun: options.dryRun ?? false,
        });
        if (options.json) return console.log(JSON.stringify(result, null, 2));
        console.log(
          `${result.streams.length} purchase(s) of ${appUserId}; ${result.changed.length} changed${options.dryRun ? ' (dry run: nothing written)' : ''}.`,
        );
        for (const change of result.changed) console.log(`  ${change.streamId}`);
      }),
    );

  return program;
}

async function withServices(
  work: (services: {
    config: Config;
    pool: import('../db/pool.ts').Pool;
    logger: Logger;
    catalog: Awaited<ReturnType<typeof loadCatalog>>;
    eventStore: PostgresEventStore;
    projection: ReturnType<typeof purchasesProjection>;
  }) => Promise<void>,
): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) return fail(error.message);
    throw error;
  }
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const catalog = await loadCatalog(config.catalogPath);
  const database = await openDatabase(config.database, logger);
  try {
    await migrate(database.pool);
    const eventStore = new PostgresEventStore(database.pool);
    const projection = purchasesProjection({ catalog, logger });
    await work({ config, pool: database.pool, logger, catalog, eventStore, projection });
  } finally {
    await database.close();
  }
}

async function countEvents(pool: import('../db/pool.ts').Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM events');
  return Number(rows[0]!.n);
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
