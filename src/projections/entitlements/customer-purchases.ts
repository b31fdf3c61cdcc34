import type { Queryable } from '../../db/pool.ts';
import type { CustomerPurchase } from '../../domain/entitlements.ts';
import type { Environment, Store } from '../../domain/purchase/purchase-key.ts';
import type { PurchaseState } from '../../domain/purchase/state.ts';

interface PurchaseRow {
  app_user_id: string;
  store: Store;
  environment: Environment;
  purchase_id: string;
  state: PurchaseState;
}

/**
 * The purchases that belong to an app user, from the read model: each with its merged
 * state, which answers for any moment (no folding of events on the request path).
 */
export async function findCustomerPurchases(db: Queryable, appUserId: string): Promise<CustomerPurchase[]> {
  return (await findPurchasesOfCustomers(db, [appUserId])).get(appUserId) ?? [];
}

/** The purchases of several app users in one query; a user with none is absent from the map. */
export async function findPurchasesOfCustomers(
  db: Queryable,
  appUserIds: readonly string[],
): Promise<Map<string, CustomerPurchase[]>> {
  const { rows } = await db.query<PurchaseRow>(
    `SELECT app_user_id, store, environment, purchase_id, state FROM purchases
     WHERE app_user_id = ANY($1::text[]) ORDER BY app_user_id, access_from NULLS LAST, stream_id`,
    [appUserIds],
  );
  const byCustomer = new Map<string, CustomerPurchase[]>();
  for (const r of rows) {
    const purchases = byCustomer.get(r.app_user_id) ?? [];
    purchases.push({
      key: { store: r.store, environment: r.environment, purchaseId: r.purchase_id },
      state: r.state,
    });
    byCustomer.set(r.app_user_id, purchases);
  }
  return byCustomer;
}

/** Store products seen in purchases that the catalog does not know, with how many purchases each. */
export async function unknownStoreProducts(
  db: Queryable,
): Promise<{ store: Store; storeProductId: string; purchases: number }[]> {
  const { rows } = await db.query<{ store: Store; store_product_id: string; purchases: number }>(
    `SELECT store, store_product_id, count(*)::int AS purchases FROM purchases
     WHERE product_id IS NULL AND store_product_id IS NOT NULL
     GROUP BY store, store_product_id ORDER BY store, store_product_id`,
  );
  return rows.map((r) => ({ store: r.store, storeProductId: r.store_product_id, purchases: r.purchases }));
}

/** The environment of the purchase a store id belongs to, when the read model has it (Google's voided purchases do not say). */
export async function environmentOfPurchase(
  db: Queryable,
  store: Store,
  purchaseId: string,
): Promise<Environment | undefined> {
  const { rows } = await db.query<{ environment: Environment }>(
    `SELECT environment FROM purchases WHERE store = $1 AND purchase_id = $2 ORDER BY environment LIMIT 1`,
    [store, purchaseId],
  );
  return rows[0]?.environment;
}

/**
 * Every purchase stream the app user was ever linked to or claimed (`customer_streams`),
 * and any the read model says they own: a customer's whole story, not only what is
 * theirs today.
 */
export async function customerStreams(db: Queryable, appUserId: string): Promise<string[]> {
  const { rows } = await db.query<{ stream_id: string }>(
    `SELECT stream_id FROM customer_streams WHERE app_user_id = $1
     UNION SELECT stream_id FROM purchases WHERE app_user_id = $1`,
    [appUserId],
  );
  return rows.map((r) => r.stream_id).sort();
}

/** How many customers own a purchase, of those whose app user id sorts after `after`. */
export async function countCustomersAfter(db: Queryable, after: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(DISTINCT app_user_id)::int AS n FROM purchases WHERE app_user_id > $1',
    [after],
  );
  return rows[0]!.n;
}

/** The next `limit` customers owning a purchase after `after`, in app user id order: a page of a walk over all. */
export async function customersAfter(db: Queryable, after: string, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ app_user_id: string }>(
    'SELECT DISTINCT app_user_id FROM purchases WHERE app_user_id > $1 ORDER BY app_user_id LIMIT $2',
    [after, limit],
  );
  return rows.map((row) => row.app_user_id);
}
