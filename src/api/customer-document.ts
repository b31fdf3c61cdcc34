import type { CustomerEntitlements, Entitlement } from '../domain/entitlements.ts';

/**
 * The customer document apps read (RevenueCat's customer info is the model):
 * entitlements by identifier, each saying where it comes from, environment included,
 * so sandbox access is never mistaken for a production purchase.
 */
export function customerDocument(appUserId: string, customer: CustomerEntitlements) {
  return {
    appUserId,
    at: customer.at,
    entitlements: Object.fromEntries(customer.entitlements.map((e) => [e.id, entitlementDocument(e)])),
    unknownProducts: customer.unknownProducts.map((u) => ({ ...u.purchase, storeProductId: u.storeProductId })),
  };
}

function entitlementDocument(e: Entitlement) {
  return {
    active: e.active,
    expiresAt: e.expiresAt,
    purchasedAt: e.purchasedAt,
    productId: e.productId,
    storeProductId: e.storeProductId,
    store: e.purchase.store,
    environment: e.purchase.environment,
    purchaseId: e.purchase.purchaseId,
    willRenew: e.willRenew,
    periodType: e.periodType,
    ownership: e.ownership,
    gracePeriodExpiresAt: e.gracePeriodExpiresAt ?? null,
    billingIssueDetectedAt: e.billingIssueDetectedAt ?? null,
    unsubscribeDetectedAt: e.unsubscribeDetectedAt ?? null,
    revokedAt: e.revokedAt ?? null,
  };
}
