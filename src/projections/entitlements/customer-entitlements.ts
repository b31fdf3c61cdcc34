import type { Catalog } from '../../domain/catalog.ts';
import {
  entitlementsAt,
  purchasesAt,
  type CustomerEntitlements,
  type CustomerPurchase,
  type PurchaseAtMoment,
} from '../../domain/entitlements.ts';
import { toTimestamp } from '../../domain/time.ts';

/** Reads a customer's purchases: the read model, or a cache in front of it. */
export interface CustomerPurchasesReader {
  purchasesOf(appUserId: string): Promise<readonly CustomerPurchase[]>;
}

/** A customer's purchases as they stand at one moment, and the entitlements they give then. */
export interface CustomerNow {
  readonly appUserId: string;
  readonly purchases: readonly PurchaseAtMoment[];
  readonly entitlements: CustomerEntitlements;
}

/**
 * A customer's entitlements at `now`, computed on each call from their purchases'
 * states (cached by the reader): nothing about a moment is stored, so an answer is
 * never one computed for another moment (a renewal charged early does not end the
 * period still running). Reading a status at an instant takes microseconds.
 * An unknown customer simply has none.
 */
export async function customerNow(
  reader: CustomerPurchasesReader,
  catalog: Catalog,
  appUserId: string,
  now: Date,
): Promise<CustomerNow> {
  const at = toTimestamp(now);
  const purchases = purchasesAt(await reader.purchasesOf(appUserId), at);
  return { appUserId, purchases, entitlements: entitlementsAt(purchases, catalog, at) };
}
