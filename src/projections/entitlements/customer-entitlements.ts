import type { Catalog } from '../../domain/catalog.ts';
import { entitlementsAt, type CustomerEntitlements, type CustomerPurchase } from '../../domain/entitlements.ts';

/** Reads a customer's purchases: the read model, or a cache in front of it. */
export interface CustomerPurchasesReader {
  purchasesOf(appUserId: string): Promise<CustomerPurchase[]>;
}

/** A customer's entitlements now. An unknown customer simply has none. */
export async function customerEntitlements(
  reader: CustomerPurchasesReader,
  catalog: Catalog,
  appUserId: string,
  now: Date = new Date(),
): Promise<CustomerEntitlements> {
  return entitlementsAt(await reader.purchasesOf(appUserId), catalog, now.toISOString());
}
