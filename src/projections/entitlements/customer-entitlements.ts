import type { Queryable } from '../../db/pool.ts';
import type { Catalog } from '../../domain/catalog.ts';
import { entitlementsAt, type CustomerEntitlements } from '../../domain/entitlements.ts';
import { findCustomerPurchases } from './customer-purchases.ts';

/** A customer's entitlements now, from the read model. An unknown customer simply has none. */
export async function customerEntitlements(
  db: Queryable,
  catalog: Catalog,
  appUserId: string,
  now: Date = new Date(),
): Promise<CustomerEntitlements> {
  return entitlementsAt(await findCustomerPurchases(db, appUserId), catalog, now.toISOString());
}
