import { productForStoreProduct, type Catalog } from '../domain/catalog.ts';
import type { Entitlement, PurchaseAtMoment } from '../domain/entitlements.ts';
import { hasAccessAt } from '../domain/purchase/status.ts';
import { millis, type Timestamp } from '../domain/time.ts';
import type { CustomerNow } from '../projections/entitlements/customer-entitlements.ts';

/**
 * The customer document apps read (RevenueCat's customer info is the model):
 * entitlements by identifier, each saying where it comes from, environment included,
 * so sandbox access is never mistaken for a production purchase; then every
 * subscription by store product, and one-time purchases. The HTTP routes check it
 * against their response schema (src/api/schemas.ts); the CLI prints it as it is.
 */
export function customerDocument(customerNow: CustomerNow, catalog: Catalog) {
  const { appUserId, purchases, entitlements: customer } = customerNow;
  const started = purchases.flatMap((p) => p.status.firstPurchasedAt ?? []);
  const observed = purchases.flatMap((p) => p.status.lastObservedAt ?? []);
  return {
    appUserId,
    at: customer.at,
    firstSeen: started.length ? started.reduce(earlier) : null,
    lastSeen: observed.length ? observed.reduce(later) : null,
    entitlements: Object.fromEntries(customer.entitlements.map((e) => [e.id, entitlementDocument(e)])),
    subscriptions: subscriptionsByProduct(purchases, catalog, customer.at),
    oneTimePurchases: purchases
      .filter((p) => p.status.kind === 'one_time' && p.status.current)
      .map((p) => ({
        storeProductId: p.status.current!.productId,
        productId: productForStoreProduct(catalog, p.key.store, p.status.current!.productId)?.id ?? null,
        ...purchaseOrigin(p),
        purchasedAt: p.status.current!.purchasedAt,
        revokedAt: p.status.revocation?.revokedAt ?? null,
      }))
      .sort((a, b) => millis(a.purchasedAt) - millis(b.purchasedAt)),
    unknownProducts: customer.unknownProducts.map((u) => ({ ...u.purchase, storeProductId: u.storeProductId })),
  };
}

export function entitlementDocument(e: Entitlement) {
  return {
    active: e.active,
    expiresAt: e.expiresAt,
    purchasedAt: e.purchasedAt,
    currentPeriod: e.currentPeriod,
    nextPeriod: e.nextPeriod ?? null,
    productId: e.productId,
    storeProductId: e.storeProductId,
    ...purchaseOrigin({ key: e.purchase }),
    willRenew: e.willRenew,
    periodType: e.periodType,
    ownership: e.ownership,
    gracePeriodExpiresAt: e.gracePeriodExpiresAt ?? null,
    billingIssueDetectedAt: e.billingIssueDetectedAt ?? null,
    unsubscribeDetectedAt: e.unsubscribeDetectedAt ?? null,
    revokedAt: e.revokedAt ?? null,
  };
}

/** Per store product, the newest purchase of it (a customer may hold one in the sandbox and one in production). */
function subscriptionsByProduct(purchases: readonly PurchaseAtMoment[], catalog: Catalog, at: Timestamp) {
  const newest = new Map<string, PurchaseAtMoment>();
  for (const p of purchases) {
    const current = p.status.current;
    if (p.status.kind !== 'subscription' || !current) continue;
    const known = newest.get(current.productId)?.status.current;
    if (!known || millis(current.purchasedAt) > millis(known.purchasedAt)) newest.set(current.productId, p);
  }
  return Object.fromEntries(
    [...newest].map(([storeProductId, p]) => {
      const { status } = p;
      return [
        storeProductId,
        {
          productId: productForStoreProduct(catalog, p.key.store, storeProductId)?.id ?? null,
          ...purchaseOrigin(p),
          active: hasAccessAt(status, at),
          purchasedAt: status.current!.purchasedAt,
          originalPurchasedAt: status.firstPurchasedAt ?? status.current!.purchasedAt,
          expiresAt: status.access ? status.access.until : (status.current!.expiresAt ?? null),
          willRenew: status.willRenew,
          periodType: status.current!.periodType,
          ownership: status.current!.ownership,
          billingIssueDetectedAt: status.billingIssueDetectedAt ?? null,
          gracePeriodExpiresAt: status.gracePeriodEndsAt ?? null,
          unsubscribeDetectedAt: status.unsubscribeDetectedAt ?? null,
          revokedAt: status.revocation?.revokedAt ?? null,
        },
      ];
    }),
  );
}

function purchaseOrigin({ key }: Pick<PurchaseAtMoment, 'key'>) {
  return { store: key.store, environment: key.environment, purchaseId: key.purchaseId };
}

const earlier = (a: Timestamp, b: Timestamp) => (millis(b) < millis(a) ? b : a);
const later = (a: Timestamp, b: Timestamp) => (millis(b) > millis(a) ? b : a);
