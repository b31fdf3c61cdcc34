import type { Catalog } from '../../domain/catalog.ts';
import {
  entitlementsAt,
  nextAccessChangeAfter,
  type CustomerEntitlements,
  type CustomerPurchase,
} from '../../domain/entitlements.ts';
import { millis, toTimestamp } from '../../domain/time.ts';

/** Reads a customer's purchases: the read model, or a cache in front of it. */
export interface CustomerPurchasesReader {
  purchasesOf(appUserId: string): Promise<readonly CustomerPurchase[]>;
}

/** A customer's purchases and the entitlements they give, the same from `entitlements.at` until `validUntil`. */
export interface CustomerSnapshot {
  readonly appUserId: string;
  readonly purchases: readonly CustomerPurchase[];
  readonly entitlements: CustomerEntitlements;
  /** Epoch milliseconds of `entitlements.at`. */
  readonly computedAt: number;
  /** Epoch milliseconds: the next moment some access starts or ends (Infinity: none ahead). */
  readonly validUntil: number;
}

/**
 * Customers' entitlements now. Computing them is a fold over the customer's purchases
 * at the current time, and the answer only changes when the purchases do (the reader
 * then returns a new array) or when some access starts or ends: a snapshot is kept per
 * purchases array until that moment, so a hot customer costs a map lookup. An
 * unknown customer simply has none.
 */
export class CurrentEntitlements {
  private readonly snapshots = new WeakMap<readonly CustomerPurchase[], CustomerSnapshot>();

  constructor(
    private readonly reader: CustomerPurchasesReader,
    private readonly catalog: Catalog,
    private readonly clock: () => number = Date.now,
  ) {}

  async of(appUserId: string): Promise<CustomerSnapshot> {
    const purchases = await this.reader.purchasesOf(appUserId);
    const now = this.clock();
    const known = this.snapshots.get(purchases);
    if (known && known.appUserId === appUserId && known.computedAt <= now && now < known.validUntil) {
      return known;
    }
    const at = toTimestamp(now);
    const next = nextAccessChangeAfter(purchases, at);
    const snapshot: CustomerSnapshot = {
      appUserId,
      purchases,
      entitlements: entitlementsAt(purchases, this.catalog, at),
      computedAt: now,
      validUntil: next === null ? Number.POSITIVE_INFINITY : millis(next),
    };
    this.snapshots.set(purchases, snapshot);
    return snapshot;
  }
}
