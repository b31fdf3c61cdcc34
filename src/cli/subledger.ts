import { Command, Option } from 'commander';
import { registerApiKeyCommands, registerDevTokenCommand } from './credentials.ts';
import { registerAppleDevCommands } from './apple-dev.ts';
import { registerDeadLetterCommands } from './dead-letters.ts';
import { registerGoogleDevCommands } from './google-dev.ts';
import { lines, type CliIo } from './io.ts';
import { progressBar } from './progress.ts';
import { registerReconcileCommand } from './reconcile.ts';
import { withCliServices } from './services.ts';
import { registerSupportCommands } from './support.ts';
import { registerEvidenceCommands } from './evidence.ts';
import { registerWebhookCommands } from './webhooks.ts';

/*
 * Building the program loads commander and the command files only: each action imports
 * what it runs when it runs, so `--help` and a command start without the drivers, the
 * store clients and the HTTP server the other commands use.
 */

/** `subledger <command>`: operations on the database the service uses, configured the same way. */
export function cli(io: CliIo): Command {
  const { out } = lines(io);
  const program = new Command('subledger')
    .description('Subledger operations. Configured by the same environment variables as the service.')
    .showHelpAfterError()
    // Before any command is added: commands take these settings from the program when created.
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      getOutHelpWidth: () => io.terminals?.stdout?.columns ?? 80,
      getErrHelpWidth: () => io.terminals?.stderr?.columns ?? 80,
    })
    .exitOverride();

  program
    .command('serve')
    .description('Run Subledger (as npm start does) until a signal')
    .addOption(
      new Option(
        '--role <role>',
        'what this instance does: accept and serve (api), process (worker), or both (all; default: SUBLEDGER_ROLE, else all)',
      ).choices(['all', 'api', 'worker']),
    )
    .action(async ({ role }: { role?: string }) => {
      const { serve } = await import('../runtime/serve.ts');
      const code = await serve({ ...io.env, ...(role && { SUBLEDGER_ROLE: role }) });
      if (code !== 0) throw new Error('stopped after a failure');
    });

  program
    .command('rebuild-projections')
    .description('Empty the entitlement read model and rebuild it from every event in the store')
    .option('--resume', 'continue a rebuild that was interrupted, from the last batch it saved, without emptying again')
    .action((options: { resume?: boolean }) =>
      withCliServices(io, async ({ config, pool, logger, projection, eventStore }) => {
        const [{ resetProjection }, { ProjectionRunner }] = await Promise.all([
          import('../projections/rebuild.ts'),
          import('../projections/runner.ts'),
        ]);
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
        const bar = await progressBar(
          io,
          'rebuilding [{bar}] {value}/{total} events | {eta_formatted} left | {speed} events/s',
        );
        const started = Date.now();
        let done = 0;
        // KurrentDB cannot count its events cheaply: there the bar has no total.
        bar.start((await eventStore.countEvents?.()) ?? 0, 0, { speed: 0 });
        await runner.catchUp((applied) => {
          done += applied;
          bar.update(done, { speed: Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)) });
        });
        bar.stop();
        out(`Rebuilt "${projection.name}" from ${done} events.`);
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
      withCliServices(io, async ({ pool, eventStore, catalog, logger, view }) => {
        const { replayCustomer } = await import('../application/replay-customer.ts');
        const dryRun = options.dryRun ?? false;
        const result = await replayCustomer({ db: pool, eventStore, catalog, logger, view }, appUserId, { dryRun });
        if (options.json) {
          out(JSON.stringify(result, null, 2));
          return;
        }
        const note = dryRun ? ' (dry run: nothing written)' : '';
        out(`${result.streams.length} purchase(s) of ${appUserId}; ${result.changed.length} changed${note}.`);
        for (const change of result.changed) out(`  ${change.streamId}`);
      }),
    );

  program
    .command('unknown-products')
    .description('List store products seen in purchases that the catalog does not know')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) =>
      withCliServices(io, async ({ pool }) => {
        const { unknownStoreProducts } = await import('../projections/entitlements/customer-purchases.ts');
        const unknown = await unknownStoreProducts(pool);
        if (options.json) {
          out(JSON.stringify(unknown, null, 2));
          return;
        }
        if (unknown.length === 0) out('Every purchased product is in the catalog.');
        for (const p of unknown) out(`${p.store}\t${p.storeProductId}\t${p.purchases} purchase(s)`);
      }),
    );

  registerSupportCommands(program, io);
  registerEvidenceCommands(program, io);
  registerReconcileCommand(program, io);
  registerDeadLetterCommands(program, io);
  registerWebhookCommands(program, io);
  registerApiKeyCommands(program, io);
  registerDevTokenCommand(program, io);
  registerAppleDevCommands(program, io);
  registerGoogleDevCommands(program, io);
  return program;
}
