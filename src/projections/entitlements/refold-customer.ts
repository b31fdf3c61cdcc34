import { isDeepStrictEqual } from 'node:util';
import type { Pool } from '../../db/pool.ts';
import { withTransaction } from '../../db/transaction.ts';
import type { Catalog } from '../../domain/catalog.ts';
import { isPurchaseEvent } from '../../domain/purchase/events.ts';
import { parsePurchaseStreamId } from '../../domain/purchase/purchase-key.ts';
import { foldPurchase } from '../../domain/purchase/state.ts';
import type { EventStore } from '../../eventstore/event-store.ts';
import type { Logger } from '../../observability/logger.ts';
import { lockCheckpoint } from '../checkpoints.ts';
import { customerStreams } from './customer-purchases.ts';
import { PURCHASES_PROJECTION, readModelRow, upsertRows, type ReadModelRow } from './purchases-projection.ts';

/** The read-model columns answers depend on, as a replay compares them. */
export interface StoredPurchase {
  readonly appUserId: string | null;
  readonly storeProductId: string | null;
  readonly productId: string | null;
  readonly accessFrom: string | null;
  readonly accessUntil: string | null;
  readonly lifetimeAccess: boolean;
  readonly willRenew: boolean;
  readonly state: unknown;
}

export interface RefoldResult {
  readonly streams: readonly string[];
  /** The purchases whose read-model row the re-fold changed: which columns, before and after. */
  readonly changed: readonly {
    streamId: string;
    columns: (keyof StoredPurchase)[];
    before: StoredPurchase | null;
    after: StoredPurchase;
  }[];
}

/**
 * Re-folds one customer's purchases from the event store and rewrites their
 * read-model rows: "the projection was wrong, fix this customer now". Their purchases
 * are every stream that ever named them (`customer_streams`), so a row that names the
 * wrong owner is found and fixed too. Every column an answer depends on is compared,
 * so a dry run reports a row damaged in any of them.
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
  // An unknown product is worth one warning per replay, not one per purchase and attempt.
  const rowOptions = { ...deps, warnedProducts: new Set<string>() };
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
      const { rows } = await tx.query<StoredRow>(
        `SELECT stream_id, stream_version, app_user_id, store_product_id, product_id, lifetime_access, will_renew, state,
                ${utc('access_from')} AS access_from, ${utc('access_until')} AS access_until
           FROM purchases WHERE stream_id = ANY($1)`,
        [folded.map((f) => f.streamId)],
      );
      const current = new Map(rows.map((r) => [r.stream_id, r]));
      // The runner applied newer events between our read and the lock: read again.
      if (folded.some((f) => Number(current.get(f.streamId)?.stream_version ?? -1) > f.version)) return undefined;
      const refolded = folded.map((f) => readModelRow(f.streamId, f.key, f.state, f.version, rowOptions));
      const changed = refolded.flatMap((row) => {
        const stored = current.get(row.stream_id);
        const before = stored ? storedPurchase(stored) : null;
        const after = storedPurchase(row);
        const columns = (Object.keys(after) as (keyof StoredPurchase)[]).filter(
          (column) => !before || !isDeepStrictEqual(before[column], after[column]),
        );
        return columns.length ? [{ streamId: row.stream_id, columns, before, after }] : [];
      });
      if (!dryRun) await upsertRows(tx, refolded);
      return { streams: folded.map((f) => f.streamId), changed };
    });
    if (result) return result;
    if (attempt >= 5) throw new Error(`The purchases of ${appUserId} keep changing; try again`);
  }
}

type StoredRow = Pick<
  ReadModelRow,
  'app_user_id' | 'store_product_id' | 'product_id' | 'access_from' | 'access_until' | 'lifetime_access' | 'will_renew'
> & { stream_id: string; stream_version: string | number; state: unknown };

/** Timestamps as the domain writes them, so a stored instant compares equal to a computed one. */
const utc = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

function storedPurchase(row: StoredRow): StoredPurchase {
  return {
    appUserId: row.app_user_id,
    storeProductId: row.store_product_id,
    productId: row.product_id,
    accessFrom: row.access_from,
    accessUntil: row.access_until,
    lifetimeAccess: row.lifetime_access,
    willRenew: row.will_renew,
    // Through JSON, as the read model stores it, so an unchanged state compares equal.
    state: JSON.parse(JSON.stringify(row.state)),
  };
}
