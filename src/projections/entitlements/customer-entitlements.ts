import type { Catalog } from '../../domain/catalog.ts';
import { entitlementsAt, type CustomerEntitlements, type CustomerPurchase } from '../../domain/entitlements.ts';

/** Reads a customer's purchases: the read model, or a cache in front of it. */
export interface CustomerPurchasesReader {
  purchasesOf(appUserId: string): Promise<readonly CustomerPurchase[]>;
}

/** A customer's purchases, and the entitlements they give now. */
export interface CustomerNow {
  readonly appUserId: string;
  readonly purchases: readonly CustomerPurchase[];
  readonly entitlements: CustomerEntitlements;
}

/**
 * A customer's entitlements now, computed on each call from their purchases (cached by
 * the reader): the fold takes about a microsecond, so keeping its answer would cost
 * memory for nothing. An unknown customer simply has none.
 */
export async function customerNow(
  reader: CustomerPurchasesReader,
  catalog: Catalog,
  appUserId: string,
  now: Date = new Date(),
): Promise<CustomerNow> {
  const purchases = await reader.purchasesOf(appUserId);
  return { appUserId, purchases, entitlements: entitlementsAt(purchases, catalog, now.toISOString()) };
}
