import { productForStoreProduct, type Catalog } from './catalog.ts';
import type { Ownership, PeriodType, Transaction } from './purchase/events.ts';
import type { PurchaseKey } from './purchase/purchase-key.ts';
import type { PurchaseState } from './purchase/state.ts';
import { hasAccessAt, purchaseStatusAt, type PurchaseStatus } from './purchase/status.ts';
import { millis, type Timestamp } from './time.ts';

/** A purchase of the customer's: everything known about it, good for any moment. */
export interface CustomerPurchase {
  readonly key: PurchaseKey;
  readonly state: PurchaseState;
}

/** A purchase as it stood at one moment. */
export interface PurchaseAtMoment {
  readonly key: PurchaseKey;
  readonly status: PurchaseStatus;
}

/**
 * The customer's purchases as they stood at `at`. With `ownedBy`, only those that
 * belonged to that app user then (support folds every purchase that ever named them).
 */
export function purchasesAt(
  purchases: readonly CustomerPurchase[],
  at: Timestamp,
  { ownedBy }: { ownedBy?: string } = {},
): PurchaseAtMoment[] {
  const atMoment = purchases.map(({ key, state }) => ({ key, status: purchaseStatusAt(state, at) }));
  return ownedBy === undefined ? atMoment : atMoment.filter((p) => p.status.owner?.appUserId === ownedBy);
}

/** Which entitlements a customer has at `at`, from their purchases (see purchasesAt for `ownedBy`). */
export function customerEntitlementsAt(
  purchases: readonly CustomerPurchase[],
  catalog: Catalog,
  at: Timestamp,
  options: { ownedBy?: string } = {},
): CustomerEntitlements {
  return entitlementsAt(purchasesAt(purchases, at, options), catalog, at);
}

/** A billing period: when it began, and when it ends (null: never). */
export interface Period {
  readonly startsAt: Timestamp;
  readonly endsAt: Timestamp | null;
}

/** One entitlement of a customer: active now, or the most recent that was. */
export interface Entitlement {
  readonly id: string;
  readonly active: boolean;
  /** When access ends (or ended); null for access that never expires. */
  readonly expiresAt: Timestamp | null;
  readonly purchasedAt: Timestamp;
  /** The period that covers the moment (or the last one that did). */
  readonly currentPeriod: Period;
  /** The next paid period, when the store already charged it. */
  readonly nextPeriod?: Period & { readonly storeProductId: string };
  /** Our catalog product id, and the store's. */
  readonly productId: string;
  readonly storeProductId: string;
  readonly purchase: PurchaseKey;
  readonly willRenew: boolean;
  readonly periodType: PeriodType;
  readonly ownership: Ownership;
  readonly gracePeriodExpiresAt?: Timestamp;
  readonly billingIssueDetectedAt?: Timestamp;
  readonly unsubscribeDetectedAt?: Timestamp;
  readonly revokedAt?: Timestamp;
}

export interface CustomerEntitlements {
  readonly at: Timestamp;
  readonly entitlements: readonly Entitlement[];
  /** Purchases of store products the catalog does not know: reported, never dropped. */
  readonly unknownProducts: readonly { readonly purchase: PurchaseKey; readonly storeProductId: string }[];
}

/**
 * Which entitlements a customer has at `at`, until when, and from which purchase.
 * When several purchases unlock the same entitlement, the active one that lasts
 * longest wins; with none active, the one that ended last is shown as expired.
 */
export function entitlementsAt(
  purchases: readonly PurchaseAtMoment[],
  catalog: Catalog,
  at: Timestamp,
): CustomerEntitlements {
  const candidates = new Map<string, Entitlement[]>();
  const unknownProducts: CustomerEntitlements['unknownProducts'][number][] = [];
  for (const { key, status } of purchases) {
    const current = status.current;
    if (!current) continue;
    const product = productForStoreProduct(catalog, key.store, current.productId);
    if (!product) {
      unknownProducts.push({ purchase: key, storeProductId: current.productId });
      continue;
    }
    for (const entitlementId of product.entitlements) {
      const entitlement: Entitlement = {
        id: entitlementId,
        active: hasAccessAt(status, at),
        expiresAt: status.access ? status.access.until : (status.revocation?.revokedAt ?? current.expiresAt ?? null),
        purchasedAt: current.purchasedAt,
        currentPeriod: periodOf(current),
        ...(status.next && { nextPeriod: { ...periodOf(status.next), storeProductId: status.next.productId } }),
        productId: product.id,
        storeProductId: current.productId,
        purchase: key,
        willRenew: status.willRenew,
        periodType: current.periodType,
        ownership: current.ownership,
        ...(status.gracePeriodEndsAt && { gracePeriodExpiresAt: status.gracePeriodEndsAt }),
        ...(status.billingIssueDetectedAt && { billingIssueDetectedAt: status.billingIssueDetectedAt }),
        ...(status.unsubscribeDetectedAt && { unsubscribeDetectedAt: status.unsubscribeDetectedAt }),
        ...(status.revocation && { revokedAt: status.revocation.revokedAt }),
      };
      candidates.set(entitlementId, [...(candidates.get(entitlementId) ?? []), entitlement]);
    }
  }
  const entitlements = [...candidates.values()]
    .map((options) => options.reduce(strongest))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  return { at, entitlements, unknownProducts };
}

function periodOf(transaction: Transaction): Period {
  return { startsAt: transaction.purchasedAt, endsAt: transaction.expiresAt ?? null };
}

/** Active beats inactive; then the later end (never-ending last); then a stable tie-break. */
function strongest(a: Entitlement, b: Entitlement): Entitlement {
  if (a.active !== b.active) return a.active ? a : b;
  const end = (e: Entitlement) => (e.expiresAt === null ? Number.POSITIVE_INFINITY : millis(e.expiresAt));
  if (end(a) !== end(b)) return end(a) > end(b) ? a : b;
  const id = (e: Entitlement) => `${e.purchase.store}:${e.purchase.environment}:${e.purchase.purchaseId}`;
  return id(a) <= id(b) ? a : b;
}
