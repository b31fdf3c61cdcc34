import type { Queryable } from '../db/pool.ts';
import { productForStoreProduct, type Catalog } from '../domain/catalog.ts';
import type { CustomerPurchase } from '../domain/entitlements.ts';
import { finalStatus } from '../domain/purchase/status.ts';
import type { EventStore } from '../eventstore/event-store.ts';
import type { AppleReconciler } from '../ingest/apple/reconcile.ts';
import {
  recordPlayProduct,
  recordPlaySubscription,
  type PlayRecordingDeps,
} from '../ingest/google/record-play-purchase.ts';
import { newestPosition } from '../ingest/record-purchase.ts';
import { findCustomerPurchases } from '../projections/entitlements/customer-purchases.ts';
import type { Clock } from '../domain/clock.ts';
import type { ReadModelView } from './read-model-view.ts';

export interface CustomerReconcileDeps {
  readonly db: Queryable;
  readonly eventStore: EventStore;
  readonly catalog: Catalog;
  readonly clock: Clock;
  readonly view: ReadModelView;
  /** Absent without App Store Server API keys. */
  readonly apple?: AppleReconciler;
  /** Absent without Play Developer API access. */
  readonly google?: PlayRecordingDeps;
}

export interface ReconciledPurchase {
  readonly store: string;
  readonly environment: string;
  readonly purchaseId: string;
  /** What asking the store gave: `asked`, or why it was not asked or failed. */
  readonly outcome: string;
}

/**
 * Asks the stores for the truth about each of the customer's purchases now: Apple's App
 * Store Server API, Google's Play Developer API. What they answer is recorded like any
 * store fact (idempotently); a store that cannot be asked is reported, not fatal.
 * Returns once the customer's entitlements show what the stores said.
 */
export async function reconcileCustomer(deps: CustomerReconcileDeps, appUserId: string): Promise<ReconciledPurchase[]> {
  const purchases = await findCustomerPurchases(deps.db, appUserId);
  const results: ReconciledPurchase[] = [];
  for (const purchase of purchases) {
    const { store, environment, purchaseId } = purchase.key;
    let outcome: string;
    try {
      outcome = await ask(deps, purchase, appUserId);
    } catch (error) {
      outcome = `failed: ${(error as Error).message}`;
    }
    results.push({ store, environment, purchaseId, outcome });
  }
  const keys = purchases.map((purchase) => purchase.key);
  await deps.view.showWrites(await newestPosition(deps.eventStore, keys), [appUserId]);
  return results;
}

async function ask(deps: CustomerReconcileDeps, { key, state }: CustomerPurchase, appUserId: string): Promise<string> {
  // Which product, and whether a subscription: facts of the purchase, whatever the moment.
  const status = finalStatus(state);
  if (key.store === 'promotional') return 'not asked: a promotional grant is Subledger’s own';
  if (key.store === 'app_store') {
    if (!deps.apple) return 'not asked: no App Store Server API key';
    const report = await deps.apple.reconcilePurchase(key);
    return report.found ? `asked: ${report.newEvents} new event(s)` : 'asked: unknown to Apple';
  }
  if (!deps.google) return 'not asked: no Play Developer API access';
  const productId = status.storeProductId;
  const product = productId && productForStoreProduct(deps.catalog, 'play_store', productId);
  const packageName = product && deps.catalog.apps.find((a) => a.id === product.appId)?.playStore?.packageName;
  if (!productId || !packageName) return 'not asked: its product is not a Play product of the catalog';
  const question = {
    packageName,
    purchaseToken: key.purchaseId,
    causationId: `reconcile:${appUserId}:${deps.clock.now().getTime()}`,
  };
  if (status.kind === 'subscription') await recordPlaySubscription(deps.google, question);
  else await recordPlayProduct(deps.google, { ...question, productId });
  return 'asked';
}
