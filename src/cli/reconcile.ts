import type { Command } from 'commander';
import { AppleVerifier, loadTrustedRoots } from '../ingest/apple/apple-verifier.ts';
import { SourceDocumentArchive } from '../eventstore/source-documents.ts';
import { PostgresIntakeQueue } from '../intake/postgres-intake-queue.ts';
import { findCustomerPurchases } from '../projections/entitlements/customer-purchases.ts';
import { appleReconciler } from '../runtime/subledger.ts';
import { withCliServices } from './services.ts';

/**
 * `subledger reconcile`: ask the App Store Server API what Subledger may have missed,
 * for one customer or for the notifications of a time window. What it finds goes
 * through the same idempotent path as notifications; a running service's projections
 * pick it up.
 */
export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description("Ask Apple about a customer's App Store purchases, or for the notifications it sent in a window")
    .argument('[appUserId]', 'the app user whose purchases to reconcile')
    .option('--notifications-since <time>', 'fetch Apple’s notification history from this ISO 8601 time instead')
    .option('--until <time>', 'end of the notification window (default: now)')
    .option('--environment <environment>', 'Production or Sandbox, for the notification history', 'Production')
    .action(
      (appUserId: string | undefined, options: { notificationsSince?: string; until?: string; environment: string }) =>
        withCliServices(async ({ config, pool, catalog, eventStore, logger }) => {
          const verifier = new AppleVerifier(catalog.apps, {
            trustedRoots: await loadTrustedRoots(config.apple.trustedRoots),
            onlineChecks: config.apple.onlineChecks,
          });
          const reconciler = await appleReconciler(config, {
            catalog,
            verifier,
            documents: new SourceDocumentArchive(pool),
            eventStore,
            queue: new PostgresIntakeQueue(pool),
            logger,
          });
          if (!reconciler) {
            throw new Error('Set APPLE_API_KEY_FILE, APPLE_API_KEY_ID and APPLE_API_ISSUER_ID to reach Apple');
          }
          if (options.notificationsSince) {
            const environment = options.environment === 'Sandbox' ? 'Sandbox' : 'Production';
            const window = { startDate: time(options.notificationsSince), endDate: time(options.until) };
            const { accepted, duplicates } = await reconciler.reconcileNotifications(window, environment);
            console.log(`${accepted} notification(s) Subledger had missed, ${duplicates} it already had.`);
            return;
          }
          if (!appUserId) throw new Error('Name an app user, or use --notifications-since');
          const purchases = (await findCustomerPurchases(pool, appUserId)).filter((p) => p.key.store === 'app_store');
          for (const { key } of purchases) {
            const report = await reconciler.reconcilePurchase(key);
            const what = report.found ? `${report.newEvents} new event(s)` : 'unknown to Apple';
            console.log(`${key.environment} ${key.purchaseId}: ${what}`);
          }
          if (purchases.length === 0) console.log(`${appUserId} has no App Store purchases.`);
        }),
    );
}

function time(text: string | undefined): Date {
  const date = text ? new Date(text) : new Date();
  if (Number.isNaN(date.getTime())) throw new Error(`"${text}" is not an ISO 8601 time`);
  return date;
}
