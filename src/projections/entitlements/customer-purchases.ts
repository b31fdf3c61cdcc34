import type { Queryable } from '../../db/pool.ts';
import type { CustomerPurchase } from '../../domain/entitlements.ts';
import type { Environment, Store } from '../../domain/purchase/purchase-key.ts';
import type { PurchaseStatus } from '../../domain/purchase/status.ts';

interface PurchaseRow {
  store: Store;
  environment: Environment;
  purchase_id: string;
  status: PurchaseStatus;
}

/** The purchases that belong to an app user, from the read model (no folding on the request path). */
export async function findCustomerPurchases(db: Queryable, appUserId: string): Promise<CustomerPurchase[]> {
  const { rows } = await db.query<PurchaseRow>(
    `SELECT store, environment, purchase_id, status FROM purchases
     WHERE app_user_id = $1 ORDER BY access_from NULLS LAST, stream_id`,
    [appUserId],
  );
  return rows.map((r) => ({
    key: { store: r.store, environment: r.environment, purchaseId: r.purchase_id },
    status: r.status,
  }));
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
