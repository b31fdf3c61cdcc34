import type { Entitlement } from '../entitlements.ts';
import type { ExpirationReason, Price, ProductChangeKind } from '../purchase/events.ts';
import type { Environment, Store } from '../purchase/purchase-key.ts';
import type { Timestamp } from '../time.ts';

/**
 * What happened to a customer, as an app's own backend wants to hear it: the names app
 * developers know from the hosted services, and `ENTITLEMENTS_CHANGED`, the one most
 * backends act on (before and after, at the moment of the store's fact).
 */
export type CustomerEventType =
  | 'INITIAL_PURCHASE'
  | 'RENEWAL'
  | 'SUBSCRIPTION_EXTENDED'
  | 'NON_RENEWING_PURCHASE'
  | 'CANCELLATION'
  | 'UNCANCELLATION'
  | 'BILLING_ISSUE'
  | 'BILLING_RECOVERED'
  | 'PRODUCT_CHANGE'
  | 'EXPIRATION'
  | 'REFUND'
  | 'REFUND_REVERSED'
  | 'SUBSCRIPTION_PAUSED'
  | 'SUBSCRIPTION_RESUMED'
  | 'TRANSFER'
  | 'PROMOTIONAL_GRANT'
  | 'PROMOTIONAL_GRANT_ENDED'
  | 'ENTITLEMENTS_CHANGED'
  | 'TEST';

// A record, so the compiler insists every type is listed.
const TYPES: Record<CustomerEventType, true> = {
  INITIAL_PURCHASE: true,
  RENEWAL: true,
  SUBSCRIPTION_EXTENDED: true,
  NON_RENEWING_PURCHASE: true,
  CANCELLATION: true,
  UNCANCELLATION: true,
  BILLING_ISSUE: true,
  BILLING_RECOVERED: true,
  PRODUCT_CHANGE: true,
  EXPIRATION: true,
  REFUND: true,
  REFUND_REVERSED: true,
  SUBSCRIPTION_PAUSED: true,
  SUBSCRIPTION_RESUMED: true,
  TRANSFER: true,
  PROMOTIONAL_GRANT: true,
  PROMOTIONAL_GRANT_ENDED: true,
  ENTITLEMENTS_CHANGED: true,
  TEST: true,
};
export const CUSTOMER_EVENT_TYPES = Object.keys(TYPES) as readonly CustomerEventType[];

export interface CustomerEvent {
  readonly type: CustomerEventType;
  /** Whom it is about: the purchase's owner (the new one, for a transfer). */
  readonly appUserId: string;
  /** A transfer's former owner; for `ENTITLEMENTS_CHANGED`, set when this is the former owner's loss. */
  readonly formerAppUserId?: string;
  readonly purchase: { readonly store: Store; readonly environment: Environment; readonly purchaseId: string };
  /** Our catalog product and the store's, when known. */
  readonly productId?: string;
  readonly storeProductId?: string;
  /** The period the fact is about, when it is about one. */
  readonly period?: { readonly startsAt: Timestamp; readonly endsAt: Timestamp | null };
  /** What the customer paid for that period, when the store says. */
  readonly price?: Price;
  /** The store's time of the fact. */
  readonly occurredAt: Timestamp;
  readonly expirationReason?: ExpirationReason;
  readonly productChange?: {
    readonly fromProductId?: string;
    readonly toProductId: string;
    readonly direction: ProductChangeKind;
  };
  readonly entitlements?: { readonly before: readonly Entitlement[]; readonly after: readonly Entitlement[] };
}
