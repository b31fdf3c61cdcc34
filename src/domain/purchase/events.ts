import type { Timestamp } from '../time.ts';

/**
 * Store-agnostic facts about one store purchase. The edges (src/ingest) translate
 * Apple's and Google's documents into these; nothing here knows a store's shape.
 *
 * Every event says when the store observed it (`observedAt`: Apple's signedDate,
 * Google's eventTimeMillis). Facts are merged, not replayed in order: see state.ts.
 */
export type PurchaseEvent =
  | Fact<'SubscriptionStarted', { transaction: Transaction }>
  | Fact<'SubscriptionRenewed', { transaction: Transaction }>
  | Fact<'RenewalExtended', { transaction: Transaction; reason?: string }>
  | Fact<'OneTimeProductPurchased', { transaction: Transaction }>
  | Fact<'RenewalFailed', { gracePeriodEndsAt?: Timestamp }>
  | Fact<'GracePeriodExpired', Empty>
  | Fact<'BillingRecovered', Empty>
  | Fact<'SubscriptionPutOnHold', Empty>
  | Fact<'AutoRenewTurnedOff', Empty>
  | Fact<'AutoRenewTurnedOn', Empty>
  | Fact<'ProductChangeScheduled', { toProductId: string; change: ProductChangeKind }>
  | Fact<'ProductChangeCancelled', Empty>
  /** `fromProductId` is absent when the store does not say (Apple's upgrade notice names only the new product). */
  | Fact<'ProductChangeApplied', { fromProductId?: string; toProductId: string; change: ProductChangeKind }>
  | Fact<'SubscriptionExpired', { reason: ExpirationReason }>
  | Fact<'TransactionRefunded', { transactionId: string; refundedAt: Timestamp }>
  | Fact<'TransactionRevoked', { transactionId: string; revokedAt: Timestamp; reason: RevocationReason }>
  | Fact<'RefundReversed', { transactionId: string }>
  /**
   * The store ended the whole subscription at `revokedAt`: every period, the one running
   * and any paid ahead, ends there (Google's revocation; a replacement by another
   * purchase, reason `upgraded`).
   */
  | Fact<'SubscriptionRevoked', { revokedAt: Timestamp; reason: RevocationReason }>
  | Fact<'SubscriptionPaused', { resumesAt?: Timestamp }>
  | Fact<'SubscriptionResumed', Empty>
  /** `previousAppUserId`: whom a transfer took the purchase from. */
  | Fact<'PurchaseLinkedToAppUser', { appUserId: string; via: LinkSource; previousAppUserId?: string }>
  /** An app user claimed a purchase that belongs to another, and the app keeps purchases with their owner. */
  | Fact<'PurchaseClaimRefused', { appUserId: string; ownerAppUserId: string }>
  | Fact<'StoreNoticeRecorded', { notice: string }>;

export type PurchaseEventType = PurchaseEvent['type'];

interface Fact<Type extends string, Data> {
  readonly type: Type;
  readonly data: Data & { readonly observedAt: Timestamp };
}
type Empty = Record<never, never>;

/** One billing period of a subscription, or the single purchase of a one-time product. */
export interface Transaction {
  readonly transactionId: string;
  /** The store's product id (Apple productId, Google product or subscription id). */
  readonly productId: string;
  readonly purchasedAt: Timestamp;
  /**
   * The store does not say when this period began (Google gives only the subscription's
   * start, as `purchasedAt`): period-start.ts works it out from when the store first
   * reported it and what happened around it.
   */
  readonly startUnknown?: true;
  /** Absent for purchases that never expire (non-consumables, lifetime). */
  readonly expiresAt?: Timestamp;
  readonly periodType: PeriodType;
  readonly ownership: Ownership;
  readonly offer?: { readonly type: OfferType; readonly id?: string };
  /** What the customer paid for it, when the store says: a decimal amount (`"9.99"`) and an ISO 4217 code. */
  readonly price?: Price;
}

export interface Price {
  readonly amount: string;
  readonly currency: string;
}

export type PeriodType = 'trial' | 'intro' | 'normal';
export type Ownership = 'purchased' | 'family_shared';
export type OfferType = 'introductory' | 'promotional' | 'offer_code' | 'win_back';
export type ProductChangeKind = 'upgrade' | 'downgrade' | 'crossgrade';
export type ExpirationReason =
  'voluntary' | 'billing_error' | 'price_increase_declined' | 'product_unavailable' | 'other';
export type RevocationReason = 'refund' | 'family_sharing_revoked' | 'chargeback' | 'upgraded' | 'other';
/**
 * How a purchase came to belong to an app user: an app claiming a receipt, the store
 * telling us the app's account token, a restore on another account moving it there
 * (when the app transfers on restore), support staff moving it. See status.ts for
 * which wins.
 */
export type LinkSource = 'app_submission' | 'app_account_token' | 'restore_transfer' | 'support_transfer';

// A record, so the compiler insists every event type is listed.
const EVENT_TYPES: Record<PurchaseEventType, true> = {
  SubscriptionStarted: true,
  SubscriptionRenewed: true,
  RenewalExtended: true,
  OneTimeProductPurchased: true,
  RenewalFailed: true,
  GracePeriodExpired: true,
  BillingRecovered: true,
  SubscriptionPutOnHold: true,
  AutoRenewTurnedOff: true,
  AutoRenewTurnedOn: true,
  ProductChangeScheduled: true,
  ProductChangeCancelled: true,
  ProductChangeApplied: true,
  SubscriptionExpired: true,
  TransactionRefunded: true,
  TransactionRevoked: true,
  RefundReversed: true,
  SubscriptionRevoked: true,
  SubscriptionPaused: true,
  SubscriptionResumed: true,
  PurchaseLinkedToAppUser: true,
  PurchaseClaimRefused: true,
  StoreNoticeRecorded: true,
};
const PURCHASE_EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(EVENT_TYPES));

export function isPurchaseEvent<E extends { readonly type: string }>(event: E): event is E & PurchaseEvent {
  return PURCHASE_EVENT_TYPES.has(event.type);
}
