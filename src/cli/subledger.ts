import { Presets, SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { unknownStoreProducts } from '../projections/entitlements/customer-purchases.ts';
import { refoldCustomer } from '../projections/entitlements/refold-customer.ts';
import { resetProjection } from '../projections/rebuild.ts';
import { ProjectionRunner } from '../projections/runner.ts';
import { registerApiKeyCommands, registerDevTokenCommand } from './credentials.ts';
import { registerAppleDevCommands } from './apple-dev.ts';
import { registerDeadLetterCommands } from './dead-letters.ts';
import { registerGoogleDevCommands } from './google-dev.ts';
import { registerReconcileCommand } from './reconcile.ts';
import { withCliServices } from './services.ts';
import { registerSupportCommands } from './support.ts';

/** `subledger <command>`: operations on the database the service uses, configured the same way. */
export function cli(): Command {
  const program = new Command('subledger')
    .description('Subledger operations. Configured by the same environment variables as the service.')
    .showHelpAfterError();

  program
    .command('rebuild-projections')
    .description('Empty the entitlement read model and rebuild it from every event in the store')
    .option('--resume', 'continue a rebuild that was interrupted, from the last batch it saved, without emptying again')
    .action((options: { resume?: boolean }) =>
      withCliServices(async ({ config, pool, logger, projection, eventStore }) => {
        // Every batch saves the checkpoint with its rows: an interrupted rebuild resumes there.
        if (!options.resume) await resetProjection(pool, projection);
        const runner = new ProjectionRunner({
          pool,
          eventStore,
          projection,
          batchSize: config.projections.batchSize,
          idlePollMs: config.projections.idlePollMs,
          logger,
        });
        const bar = new SingleBar(
          {
            format: 'rebuilding [{bar}] {value}/{total} events | {eta_formatted} left | {speed} events/s',
            hideCursor: true,
          },
          Presets.shades_classic,
        );
        const started = Date.now();
        let done = 0;
        bar.start(await eventStore.countEvents(), 0, { speed: 0 });
        await runner.catchUp((applied) => {
          done += applied;
          bar.update(done, { speed: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)) });
        });
        bar.stop();
        console.log(`Rebuilt "${projection.name}" from ${done} events.`);
      }),
    );

  program
    .command('refold')
    .alias('replay')
    .description("Re-fold one customer's purchases from the event store and fix their read-model rows")
    .argument('<appUserId>', 'the app user id')
    .option('--dry-run', 'only show what would change')
    .option('--json', 'print JSON')
    .action((appUserId: string, options: { dryRun?: boolean; json?: boolean }) =>
      withCliServices(async ({ pool, eventStore, catalog, logger }) => {
        const dryRun = options.dryRun ?? false;
        const result = await refoldCustomer({ pool, eventStore, catalog, logger }, appUserId, { dryRun });
        if (options.json) {
          console.log(JSON.stringify(result, null, 2));
          return;
        }
        const note = dryRun ? ' (dry run: nothing written)' : '';
        console.log(`${result.streams.length} purchase(s) of ${appUserId}; ${result.changed.length} changed${note}.`);
        for (const change of result.changed) console.log(`  ${change.streamId}`);
      }),
    );

  program
    .command('unknown-products')
    .description('List store products seen in purchases that the catalog does not know')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) =>
      withCliServices(async ({ pool }) => {
        const unknown = await unknownStoreProducts(pool);
        if (options.json) {
          console.log(JSON.stringify(unknown, null, 2));
          return;
        }
        if (unknown.length === 0) console.log('Every purchased product is in the catalog.');
        for (const p of unknown) console.log(`${p.store}\t${p.storeProductId}\t${p.purchases} purchase(s)`);
      }),
    );

  registerSupportCommands(program);
  registerReconcileCommand(program);
  registerDeadLetterCommands(program);
  registerApiKeyCommands(program);
  registerDevTokenCommand(program);
  registerAppleDevCommands(program);
  registerGoogleDevCommands(program);
  return program;
}
