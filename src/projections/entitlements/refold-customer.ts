import { isDeepStrictEqual } from 'node:util';
import type { Pool } from '../../db/pool.ts';
import { withTransaction } from '../../db/transaction.ts';
import type { Catalog } from '../../domain/catalog.ts';
import { isPurchaseEvent } from '../../domain/purchase/events.ts';
import { parsePurchaseStreamId } from '../../domain/purchase/purchase-key.ts';
import { foldPurchase } from '../../domain/purchase/state.ts';
import { purchaseStatusAt, type PurchaseStatus } from '../../domain/purchase/status.ts';
import type { EventStore } from '../../eventstore/event-store.ts';
import type { Logger } from '../../observability/logger.ts';
import { lockCheckpoint } from '../checkpoints.ts';
import { PURCHASES_PROJECTION, replacePurchaseRows } from './purchases-projection.ts';

export interface RefoldResult {
  readonly streams: readonly string[];
  /** The purchases whose read-model status the re-fold changed, before and after. */
  readonly changed: readonly { streamId: string; before: PurchaseStatus; after: PurchaseStatus }[];
}

/**
 * Re-folds one customer's purchases from the event store and rewrites their
 * read-model rows: "the projection was wrong, fix this customer now".
 *
 * It holds the projection's checkpoint lock so the runner cannot interleave. It
 * may fold events the runner has not applied yet; the runner applying them again
 * later changes nothing, because folding is a merge.
 */
export async function refoldCustomer(
  deps: { pool: Pool; eventStore: EventStore; catalog: Catalog; logger: Logger },
  appUserId: string,
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<RefoldResult> {
  const { pool, eventStore } = deps;
  return withTransaction(pool, async (tx) => {
    await lockCheckpoint(tx, PURCHASES_PROJECTION, { wait: true });
    const { rows } = await tx.query<{ stream_id: string; status: PurchaseStatus }>(
      'SELECT stream_id, status FROM purchases WHERE app_user_id = $1 ORDER BY stream_id',
      [appUserId],
    );
    const refolded = await Promise.all(
      rows.map(async ({ stream_id: streamId, status: before }) => {
        const events = await eventStore.readStream(streamId);
        const state = foldPurchase(events.filter(isPurchaseEvent));
        return {
          streamId,
          key: parsePurchaseStreamId(streamId)!,
          state,
          version: events.at(-1)?.streamVersion ?? -1,
          before,
          // Through JSON, as the read model stores it, so unchanged compares equal.
          after: JSON.parse(JSON.stringify(purchaseStatusAt(state))) as PurchaseStatus,
        };
      }),
    );
    if (!dryRun) await replacePurchaseRows(tx, refolded, deps);
    return {
      streams: refolded.map((r) => r.streamId),
      changed: refolded
        .filter((r) => !isDeepStrictEqual(r.before, r.after))
        .map(({ streamId, before, after }) => ({ streamId, before, after })),
    };
  });
}
