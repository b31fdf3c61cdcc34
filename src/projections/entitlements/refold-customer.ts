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
import { customerStreams } from './customer-purchases.ts';
import { PURCHASES_PROJECTION, replacePurchaseRows } from './purchases-projection.ts';

export interface RefoldResult {
  readonly streams: readonly string[];
  /** The purchases whose read-model status the re-fold changed, before and after. */
  readonly changed: readonly { streamId: string; before: PurchaseStatus | null; after: PurchaseStatus }[];
}

/**
 * Re-folds one customer's purchases from the event store and rewrites their
 * read-model rows: "the projection was wrong, fix this customer now". Their purchases
 * are every stream that ever named them (`customer_streams`), so a row that names the
 * wrong owner is found and fixed too.
 *
 * It reads the streams, then takes the projection's lock so the runner cannot
 * interleave, and writes only if the runner applied nothing newer meanwhile (else
 * it reads again). It may fold events the runner has not applied yet; the runner
 * applying them later changes nothing, because folding is a merge.
 */
export async function refoldCustomer(
  deps: { pool: Pool; eventStore: EventStore; catalog: Catalog; logger: Logger },
  appUserId: string,
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<RefoldResult> {
  const { pool, eventStore } = deps;
  for (let attempt = 1; ; attempt++) {
    // Read the streams first, outside the transaction: a transaction must never wait on
    // another connection while it holds locks (see the projection runner).
    const streams = await customerStreams(pool, appUserId);
    const folded = await Promise.all(
      streams.map(async (streamId) => {
        const events = await eventStore.readStream(streamId);
        const state = foldPurchase(events.filter(isPurchaseEvent));
        return { streamId, key: parsePurchaseStreamId(streamId)!, state, version: events.at(-1)?.streamVersion ?? -1 };
      }),
    );
    const result = await withTransaction(pool, async (tx): Promise<RefoldResult | undefined> => {
      await lockCheckpoint(tx, PURCHASES_PROJECTION, { wait: true });
      const { rows } = await tx.query<{ stream_id: string; status: PurchaseStatus; stream_version: string }>(
        'SELECT stream_id, status, stream_version FROM purchases WHERE stream_id = ANY($1)',
        [folded.map((f) => f.streamId)],
      );
      const current = new Map(rows.map((r) => [r.stream_id, r]));
      // The runner applied newer events between our read and the lock: read again.
      if (folded.some((f) => Number(current.get(f.streamId)?.stream_version ?? -1) > f.version)) return undefined;
      const refolded = folded.map((f) => ({
        ...f,
        before: current.get(f.streamId)?.status ?? null,
        // Through JSON, as the read model stores it, so unchanged compares equal.
        after: JSON.parse(JSON.stringify(purchaseStatusAt(f.state))) as PurchaseStatus,
      }));
      if (!dryRun) await replacePurchaseRows(tx, refolded, deps);
      return {
        streams: refolded.map((r) => r.streamId),
        changed: refolded
          .filter((r) => !isDeepStrictEqual(r.before, r.after))
          .map(({ streamId, before, after }) => ({ streamId, before, after })),
      };
    });
    if (result) return result;
    if (attempt >= 5) throw new Error(`The purchases of ${appUserId} keep changing; try again`);
  }
}
