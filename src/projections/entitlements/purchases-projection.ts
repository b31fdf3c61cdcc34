import type { Queryable } from '../../db/pool.ts';
import { productForStoreProduct, type Catalog } from '../../domain/catalog.ts';
import { isPurchaseEvent, type PurchaseEvent } from '../../domain/purchase/events.ts';
import { parsePurchaseStreamId, type PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import { foldPurchase, initialState, type PurchaseState } from '../../domain/purchase/state.ts';
import { finalStatus } from '../../domain/purchase/status.ts';
import type { RecordedEvent } from '../../eventstore/event-store.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Projection } from '../projection.ts';

export const PURCHASES_PROJECTION = 'purchases';

export interface PurchasesProjectionOptions {
  readonly catalog: Catalog;
  readonly logger: Logger;
}

/**
 * The entitlement read model: folds each purchase stream into its merged state, one
 * `purchases` row per purchase, found by its owner. Readers compute the status at the
 * moment they ask about from the state; the row's other columns describe the latest
 * period, for jobs and reports (see migration 0014).
 */
export function purchasesProjection(options: PurchasesProjectionOptions): Projection {
  const warnedTypes = new Set<string>();
  const warnedProducts = new Set<string>();
  return {
    name: PURCHASES_PROJECTION,

    async apply(events, tx) {
      const byStream = new Map<string, { key: PurchaseKey; events: PurchaseEvent[]; version: number }>();
      for (const event of events) {
        const key = parsePurchaseStreamId(event.streamId);
        if (!key) continue;
        if (!isPurchaseEvent(event)) {
          warnOnce(warnedTypes, event, options.logger);
          continue;
        }
        const entry = byStream.get(event.streamId) ?? { key, events: [], version: event.streamVersion };
        entry.events.push(event);
        entry.version = Math.max(entry.version, event.streamVersion);
        byStream.set(event.streamId, entry);
      }
      if (byStream.size === 0) return;

      const previous = await loadStates(tx, [...byStream.keys()]);
      const rows = [...byStream].map(([streamId, { key, events: news, version }]) =>
        readModelRow(streamId, key, foldPurchase(news, previous.get(streamId) ?? initialState()), version, {
          ...options,
          warnedProducts,
        }),
      );
      await upsertRows(tx, rows);
    },

    async reset(tx) {
      await tx.query('TRUNCATE purchases, customer_streams');
      await tx.query(`SELECT pg_notify($1, '*')`, [CUSTOMER_CHANGES_CHANNEL]);
    },
  };
}

/** The row the read model keeps for a purchase. */
export function readModelRow(
  streamId: string,
  key: PurchaseKey,
  state: PurchaseState,
  version: number,
  {
    catalog,
    logger,
    warnedProducts,
  }: Pick<PurchasesProjectionOptions, 'catalog' | 'logger'> & { warnedProducts?: Set<string> },
) {
  const status = finalStatus(state);
  const product = status.storeProductId ? productForStoreProduct(catalog, key.store, status.storeProductId) : undefined;
  const unknown = status.storeProductId && !product ? `${key.store}:${status.storeProductId}` : undefined;
  if (unknown && !warnedProducts?.has(unknown)) {
    warnedProducts?.add(unknown);
    logger.warn(
      { streamId, store: key.store, storeProductId: status.storeProductId },
      'purchase of a product the catalog does not know (listed by `subledger unknown-products`)',
    );
  }
  return {
    stream_id: streamId,
    store: key.store,
    environment: key.environment,
    purchase_id: key.purchaseId,
    app_user_id: status.owner?.appUserId ?? null,
    store_product_id: status.storeProductId ?? null,
    product_id: product?.id ?? null,
    access_from: status.access?.from ?? null,
    access_until: status.access?.until ?? null,
    lifetime_access: status.access?.until === null,
    will_renew: status.willRenew,
    state,
    stream_version: version,
    // Not a column of `purchases`: every app user this purchase ever named (customer_streams).
    named_app_users: [
      ...new Set([...state.links.map((l) => l.value.appUserId), ...state.refusedClaims.map((c) => c.value.appUserId)]),
    ],
  };
}

export type ReadModelRow = ReturnType<typeof readModelRow>;

async function loadStates(tx: Queryable, streamIds: string[]) {
  const { rows } = await tx.query<{ stream_id: string; state: PurchaseState }>({
    name: 'purchases-load-states',
    text: 'SELECT stream_id, state FROM purchases WHERE stream_id = ANY($1)',
    values: [streamIds],
  });
  return new Map(rows.map((r) => [r.stream_id, r.state]));
}

/**
 * Where the read model announces, at commit, which customers' purchases changed: a JSON
 * array of app user ids, or '*' for all of them.
 */
export const CUSTOMER_CHANGES_CHANNEL = 'subledger_customer_changes';

/** The app users a notice on CUSTOMER_CHANGES_CHANNEL names; '*' for all. */
export function changedCustomers(payload: string): readonly string[] | '*' {
  if (payload.startsWith('[')) {
    try {
      const ids: unknown = JSON.parse(payload);
      if (Array.isArray(ids) && ids.every((id) => typeof id === 'string')) return ids;
    } catch {
      // Not an array of ids: one id, as earlier versions sent them (during a rolling upgrade).
    }
  }
  return payload === '' || payload === '*' ? '*' : [payload];
}

/**
 * One statement for the whole batch. It also notifies, at commit, every app user whose
 * purchases changed, the previous owner of a transferred purchase included, so caches
 * in every instance drop what they hold about them: a JSON array of their ids per
 * notification, a few per batch rather than one per customer, each of which woke every
 * listening connection.
 */
export async function upsertRows(tx: Queryable, rows: readonly ReadModelRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query({
    name: 'purchases-upsert',
    text: `WITH incoming AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(
         stream_id text, store text, environment text, purchase_id text, app_user_id text, store_product_id text,
         product_id text, access_from timestamptz, access_until timestamptz, lifetime_access boolean,
         will_renew boolean, state jsonb, stream_version bigint, named_app_users jsonb)
     ),
     named AS (
       INSERT INTO customer_streams (app_user_id, stream_id)
       SELECT DISTINCT named.app_user_id, incoming.stream_id
       FROM incoming, jsonb_array_elements_text(incoming.named_app_users) AS named (app_user_id)
       ON CONFLICT DO NOTHING
     ),
     -- Who owned them before: a probe of the key per purchase. (As a join, a plan kept from
     -- when the table was small read all of it for every batch: 3,000 pages at 200,000 rows.)
     previous AS (
       SELECT p.app_user_id FROM incoming
       CROSS JOIN LATERAL (SELECT app_user_id FROM purchases WHERE stream_id = incoming.stream_id LIMIT 1) p
     ),
     written AS (
       INSERT INTO purchases (stream_id, store, environment, purchase_id, app_user_id, store_product_id, product_id,
                              access_from, access_until, lifetime_access, will_renew, state, stream_version, updated_at)
       SELECT stream_id, store, environment, purchase_id, app_user_id, store_product_id, product_id,
              access_from, access_until, lifetime_access, will_renew, state, stream_version, now()
       FROM incoming
       ON CONFLICT (stream_id) DO UPDATE SET
         app_user_id = excluded.app_user_id, store_product_id = excluded.store_product_id,
         product_id = excluded.product_id, access_from = excluded.access_from, access_until = excluded.access_until,
         lifetime_access = excluded.lifetime_access, will_renew = excluded.will_renew, state = excluded.state,
         stream_version = GREATEST(purchases.stream_version, excluded.stream_version), updated_at = now()
       RETURNING app_user_id
     ),
     changed AS (
       SELECT to_json(app_user_id)::text AS id
       FROM (SELECT app_user_id FROM previous UNION SELECT app_user_id FROM written) ids
       WHERE app_user_id IS NOT NULL
     ),
     -- Each notice under PostgreSQL's 8,000 bytes whatever the ids: a chunk ends once the running
     -- sum passes a multiple of 4,000, so it holds under 4,000 bytes plus one id of at most
     -- 3,900. A longer id (no store sends one) cannot be named: everyone is told instead.
     chunked AS (
       SELECT id, sum(octet_length(id) + 1) OVER (ORDER BY id) / 4000 AS chunk
       FROM changed WHERE octet_length(id) <= 3900
     )
     SELECT pg_notify($2, '[' || string_agg(id, ',') || ']') FROM chunked GROUP BY chunk
     UNION ALL
     SELECT pg_notify($2, '*') WHERE EXISTS (SELECT FROM changed WHERE octet_length(id) > 3900)`,
    values: [JSON.stringify(rows), CUSTOMER_CHANGES_CHANNEL],
  });
}

function warnOnce(warned: Set<string>, event: RecordedEvent, logger: Logger): void {
  if (warned.has(event.type)) return;
  warned.add(event.type);
  logger.warn(
    { eventType: event.type, streamId: event.streamId },
    'skipping events of a type this version does not know (written by a newer version?)',
  );
}
