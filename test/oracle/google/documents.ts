/**
 * The Google documents the oracle writes, typed here rather than borrowed from
 * src/ingest so the fake Google stays independent of Subledger's reading of them.
 * Only the fields the lifecycles use; names and shapes as in Google's references:
 * https://developer.android.com/google/play/billing/rtdn-reference and
 * https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.subscriptionsv2
 */

/** subscriptionNotification.notificationType. */
export const RTDN_TYPES = {
  SUBSCRIPTION_RECOVERED: 1,
  SUBSCRIPTION_RENEWED: 2,
  SUBSCRIPTION_CANCELED: 3,
  SUBSCRIPTION_PURCHASED: 4,
  SUBSCRIPTION_ON_HOLD: 5,
  SUBSCRIPTION_IN_GRACE_PERIOD: 6,
  SUBSCRIPTION_RESTARTED: 7,
  SUBSCRIPTION_PRICE_CHANGE_CONFIRMED: 8,
  SUBSCRIPTION_DEFERRED: 9,
  SUBSCRIPTION_PAUSED: 10,
  SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED: 11,
  SUBSCRIPTION_REVOKED: 12,
  SUBSCRIPTION_EXPIRED: 13,
} as const;

export interface DeveloperNotificationDoc {
  readonly version: '1.0';
  readonly packageName: string;
  /** When the event occurred: digits of milliseconds. */
  readonly eventTimeMillis: string;
  readonly subscriptionNotification?: {
    readonly version: '1.0';
    readonly notificationType: number;
    readonly purchaseToken: string;
  };
  readonly voidedPurchaseNotification?: {
    readonly purchaseToken: string;
    readonly orderId: string;
    /** 1 PRODUCT_TYPE_SUBSCRIPTION. */
    readonly productType: 1;
    /** 1 REFUND_TYPE_FULL_REFUND. */
    readonly refundType: 1;
  };
}

export type SubscriptionStateName =
  | 'SUBSCRIPTION_STATE_ACTIVE'
  | 'SUBSCRIPTION_STATE_CANCELED'
  | 'SUBSCRIPTION_STATE_IN_GRACE_PERIOD'
  | 'SUBSCRIPTION_STATE_ON_HOLD'
  | 'SUBSCRIPTION_STATE_PAUSED'
  | 'SUBSCRIPTION_STATE_EXPIRED';

export interface LineItemDoc {
  readonly productId: string;
  /** RFC 3339. While in grace, the grace period's end. */
  readonly expiryTime: string;
  readonly latestSuccessfulOrderId: string;
  /** Google leaves out autoRenewEnabled when it is false. */
  readonly autoRenewingPlan: {
    readonly autoRenewEnabled?: true;
    readonly priceChangeDetails?: { readonly priceChangeMode: string; readonly priceChangeState: string };
  };
  readonly offerDetails: { readonly basePlanId: string; readonly offerId?: string };
  readonly offerPhase: { readonly freeTrial?: object; readonly basePrice?: object };
  readonly itemReplacement?: {
    readonly productId: string;
    readonly basePlanId: string;
    readonly replacementMode: string;
  };
}

export interface SubscriptionPurchaseV2Doc {
  readonly kind: 'androidpublisher#subscriptionPurchaseV2';
  readonly regionCode: string;
  readonly startTime: string;
  readonly subscriptionState: SubscriptionStateName;
  readonly latestOrderId: string;
  readonly linkedPurchaseToken?: string;
  readonly pausedStateContext?: { readonly autoResumeTime: string };
  readonly canceledStateContext?: {
    readonly userInitiatedCancellation?: { readonly cancelTime: string };
    readonly systemInitiatedCancellation?: object;
    readonly developerInitiatedCancellation?: object;
    readonly replacementCancellation?: object;
  };
  readonly acknowledgementState: 'ACKNOWLEDGEMENT_STATE_PENDING' | 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED';
  readonly externalAccountIdentifiers?: { readonly obfuscatedExternalAccountId: string };
  readonly lineItems: readonly LineItemDoc[];
}

/** An entry of purchases.voidedpurchases.list. */
export interface VoidedPurchaseDoc {
  readonly kind: 'androidpublisher#voidedPurchase';
  readonly purchaseToken: string;
  readonly orderId: string;
  readonly purchaseTimeMillis: string;
  readonly voidedTimeMillis: string;
  /** 0 user, 1 developer, 2 Google. */
  readonly voidedSource: number;
  /** 0 other, 1 remorse, ..., 7 chargeback. */
  readonly voidedReason: number;
}
