import type { Pool } from '../db/pool.ts';
import type { Catalog } from '../domain/catalog.ts';
import type { EventStore } from '../eventstore/event-store.ts';
import type { Logger } from '../observability/logger.ts';
import { refoldCustomer, type RefoldResult } from '../projections/entitlements/refold-customer.ts';
import type { ReadModelView } from './read-model-view.ts';

/**
 * Re-folds one customer's purchases from the event store and rewrites their read-model
 * rows ("the projection was wrong, fix this customer now"); a dry run only answers what
 * would change. The rows are rewritten directly (no projection to wait for): only cached
 * reads are stale, of this customer and of anyone a rewritten row named before or names now.
 */
export async function replayCustomer(
  deps: {
    readonly db: Pool;
    readonly eventStore: EventStore;
    readonly catalog: Catalog;
    readonly logger: Logger;
    readonly view: ReadModelView;
  },
  appUserId: string,
  { dryRun }: { dryRun: boolean },
): Promise<RefoldResult> {
  const result = await refoldCustomer({ ...deps, pool: deps.db }, appUserId, { dryRun });
  if (!dryRun) {
    const named = result.changed.flatMap((c) => [c.before?.appUserId, c.after.appUserId]);
    deps.view.forget(new Set([appUserId, ...named].filter((user): user is string => !!user)));
  }
  return result;
}
