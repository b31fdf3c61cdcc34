import type { Command } from 'commander';
import type { CustomerReconcileDeps } from '../application/reconcile-customer.ts';
import { lines, type CliIo } from './io.ts';
import { progressBar } from './progress.ts';
import { withCliServices, type CliServices } from './services.ts';

/**
 * `subledger reconcile`: ask the stores what Subledger may have missed, for one
 * customer, for every customer (`--all`, with a progress bar; interrupted, it says how
 * to resume), or for the App Store notifications of a time window. What it finds goes
 * through the same idempotent path as notifications; a running service's projections
 * pick it up.
 */
export function registerReconcileCommand(program: Command, io: CliIo): void {
  const { out } = lines(io);
  program
    .command('reconcile')
    .description(
      "Ask the stores about a customer's purchases (or every customer's), or Apple for a window's notifications",
    )
    .argument('[appUserId]', 'the app user whose purchases to reconcile')
    .option('--all', 'every customer with a purchase, in app user id order')
    .option('--after <appUserId>', 'with --all: start after this app user (to resume an interrupted run)')
    .option('--notifications-since <time>', 'fetch Apple’s notification history from this ISO 8601 time instead')
    .option('--until <time>', 'end of the notification window (default: now)')
    .option('--environment <environment>', 'Production or Sandbox, for the notification history', 'Production')
    .action((appUserId: string | undefined, options: ReconcileOptions) =>
      withCliServices(io, async (services) => {
        const deps = await storeAccess(services);
        if (options.notificationsSince) {
          if (!deps.apple)
            throw new Error('Set APPLE_API_KEY_FILE, APPLE_API_KEY_ID and APPLE_API_ISSUER_ID to reach Apple');
          const environment = options.environment === 'Sandbox' ? 'Sandbox' : 'Production';
          const window = { startDate: time(options.notificationsSince), endDate: time(options.until) };
          const { accepted, duplicates } = await deps.apple.reconcileNotifications(window, environment);
          out(`${accepted} notification(s) Subledger had missed, ${duplicates} it already had.`);
          return;
        }
        const { reconcileCustomer } = await import('../application/reconcile-customer.ts');
        if (options.all) return reconcileEveryone(io, services, (id) => reconcileCustomer(deps, id), options.after);
        if (!appUserId) throw new Error('Name an app user, or use --all or --notifications-since');
        const results = await reconcileCustomer(deps, appUserId);
        for (const r of results) out(`${r.store} ${r.environment} ${r.purchaseId}: ${r.outcome}`);
        if (results.length === 0) out(`${appUserId} has no purchases.`);
      }),
    );
}

interface ReconcileOptions {
  all?: boolean;
  after?: string;
  notificationsSince?: string;
  until?: string;
  environment: string;
}

/** Each store the configuration lets us ask. */
async function storeAccess(services: CliServices): Promise<CustomerReconcileDeps> {
  const { config, pool, catalog, eventStore, logger, clock, view } = services;
  const [{ PlayDeveloperApi }, { SourceDocumentArchive }, { intakeQueueOf }, { appleReconciler, appleVerifier }] =
    await Promise.all([
      import('../ingest/google/play-developer-api.ts'),
      import('../eventstore/source-documents.ts'),
      import('../intake/intake-queue-of.ts'),
      import('../ingest/apple/reconciler-from-config.ts'),
    ]);
  const documents = new SourceDocumentArchive(pool);
  const apple = await appleReconciler(config, {
    catalog,
    verifier: await appleVerifier(config, catalog),
    documents,
    eventStore,
    queue: await intakeQueueOf(config.intake.queue, pool),
    logger,
  });
  return {
    db: pool,
    eventStore,
    catalog,
    clock,
    view,
    ...(apple && { apple }),
    ...(config.google.api && {
      google: { eventStore, documents, api: new PlayDeveloperApi(config.google.api), logger },
    }),
  };
}

/** Every customer, in order, a page at a time; Ctrl-C stops after the customer under way and says how to resume. */
async function reconcileEveryone(
  io: CliIo,
  services: CliServices,
  reconcileCustomer: (appUserId: string) => Promise<unknown>,
  after = '',
): Promise<void> {
  const { pool } = services;
  const { countCustomersAfter, customersAfter } = await import('../projections/entitlements/customer-purchases.ts');
  const total = await countCustomersAfter(pool, after);
  const bar = await progressBar(
    io,
    'reconciling [{bar}] {value}/{total} customers | {eta_formatted} left | {speed} customers/s',
  );
  let interrupted = false;
  const stop = () => (interrupted = true);
  process.once('SIGINT', stop);
  const started = Date.now();
  let done = 0;
  let last = after;
  bar.start(total, 0, { speed: 0 });
  try {
    while (!interrupted) {
      const page = await customersAfter(pool, last, 100);
      if (page.length === 0) break;
      for (const appUserId of page) {
        if (interrupted) break;
        await reconcileCustomer(appUserId);
        last = appUserId;
        done += 1;
        bar.update(done, { speed: (done / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1) });
      }
    }
  } finally {
    bar.stop();
    process.off('SIGINT', stop);
  }
  const { out } = lines(io);
  if (interrupted)
    out(
      `Interrupted after ${done} customer(s). Resume with: subledger reconcile --all --after ${JSON.stringify(last)}`,
    );
  else out(`Reconciled ${done} customer(s).`);
}

function time(text: string | undefined): Date {
  const date = text ? new Date(text) : new Date();
  if (Number.isNaN(date.getTime())) throw new Error(`"${text}" is not an ISO 8601 time`);
  return date;
}
