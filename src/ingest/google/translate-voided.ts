import type { PurchaseEvent, RevocationReason } from '../../domain/purchase/events.ts';
import type { Environment, PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import { eventTimeOf, fromMillisText, observedAt, PlayDocumentMismatch, playPurchaseKey } from './play-facts.ts';
import type { DeveloperNotification, VoidedPurchase } from './play-payloads.ts';

/**
 * A voided purchase (refunded, charged back, canceled by Google) in Subledger's
 * terms. Pure. It comes as a voidedPurchaseNotification or as an entry of
 * voidedpurchases.list, and revokes one order: a one-time purchase, or one period of a
 * subscription (its first order or a renewal), on the purchase keyed by its token.
 * Access to that order ends at the voided time.
 *
 * Neither document says whether the purchase was a test: `environment` is the one of
 * the purchase stream that holds the token (the edge knows it), production otherwise.
 */
export type PlayVoidedInput = { readonly environment: Environment } & (
  { readonly notification: DeveloperNotification } | { readonly voidedPurchase: VoidedPurchase }
);

export interface PlayVoidedTranslation {
  readonly key: PurchaseKey;
  readonly facts: PurchaseEvent[];
  /** False for a product or refund type this version does not know: recorded as a notice, and reported. */
  readonly known: boolean;
  /** A quantity-based partial refund: some of a multi-quantity purchase, which keeps the rest. */
  readonly partial: boolean;
}

/** voidedPurchaseNotification.productType. */
export const PLAY_VOIDED_PRODUCT_TYPES = { 1: 'PRODUCT_TYPE_SUBSCRIPTION', 2: 'PRODUCT_TYPE_ONE_TIME' } as const;
/** voidedPurchaseNotification.refundType. */
export const PLAY_REFUND_TYPES = {
  1: 'REFUND_TYPE_FULL_REFUND',
  2: 'REFUND_TYPE_QUANTITY_BASED_PARTIAL_REFUND',
} as const;
const FULL_REFUND = 1;
const PARTIAL_REFUND = 2;

export function translatePlayVoided(input: PlayVoidedInput): PlayVoidedTranslation {
  const voided = 'notification' in input ? fromNotification(input.notification) : fromList(input.voidedPurchase);
  const at = observedAt(voided.voidedAt);
  const key = playPurchaseKey(input.environment, voided.purchaseToken);
  const facts: PurchaseEvent[] = [];
  if (voided.refundType === PARTIAL_REFUND) {
    const quantity = voided.quantity === undefined ? '' : `/quantity/${voided.quantity}`;
    facts.push(at('StoreNoticeRecorded', { notice: `play:partial_refund/${voided.orderId}${quantity}` }));
  } else if (voided.refundType !== FULL_REFUND) {
    facts.push(at('StoreNoticeRecorded', { notice: `play:voided/${voided.orderId}/refundType/${voided.refundType}` }));
  } else {
    const reason = revocationReasonOf(voided.voidedReason);
    facts.push(
      reason === 'refund'
        ? at('TransactionRefunded', { transactionId: voided.orderId, refundedAt: voided.voidedAt })
        : at('TransactionRevoked', { transactionId: voided.orderId, revokedAt: voided.voidedAt, reason }),
    );
  }
  if (!voided.productTypeKnown) {
    facts.push(at('StoreNoticeRecorded', { notice: `play:voided/productType/${voided.productType}` }));
  }
  return {
    key,
    facts,
    known: voided.productTypeKnown && Object.hasOwn(PLAY_REFUND_TYPES, voided.refundType),
    partial: voided.refundType === PARTIAL_REFUND,
  };
}

/**
 * voidedReason: 6 friendly fraud and 7 chargeback are the user's bank taking the money
 * back, 5 fraud is Google voiding a fraudulent purchase; the others (remorse, not
 * received, defective, accidental, unacknowledged, other) are refunds. Notifications
 * give no reason: a refund.
 */
function revocationReasonOf(voidedReason: number | undefined): RevocationReason {
  if (voidedReason === 6 || voidedReason === 7) return 'chargeback';
  if (voidedReason === 5) return 'other';
  return 'refund';
}

interface Voided {
  readonly purchaseToken: string;
  readonly orderId: string;
  readonly voidedAt: string;
  readonly refundType: number;
  readonly quantity?: number;
  readonly voidedReason?: number;
  readonly productType?: number;
  readonly productTypeKnown: boolean;
}

function fromNotification(notification: DeveloperNotification): Voided {
  const payload = notification.voidedPurchaseNotification;
  if (!payload) throw new PlayDocumentMismatch('The notification is not about a voided purchase');
  return {
    purchaseToken: payload.purchaseToken,
    orderId: payload.orderId,
    // Google observed the voiding when it notified it.
    voidedAt: eventTimeOf(notification),
    refundType: payload.refundType,
    productType: payload.productType,
    productTypeKnown: Object.hasOwn(PLAY_VOIDED_PRODUCT_TYPES, payload.productType),
  };
}

function fromList(voided: VoidedPurchase): Voided {
  return {
    purchaseToken: voided.purchaseToken,
    orderId: voided.orderId,
    voidedAt: fromMillisText(voided.voidedTimeMillis),
    // The list marks a quantity-based partial refund by its voided quantity.
    refundType: voided.voidedQuantity === undefined ? FULL_REFUND : PARTIAL_REFUND,
    ...(voided.voidedQuantity !== undefined && { quantity: voided.voidedQuantity }),
    ...(voided.voidedReason !== undefined && { voidedReason: voided.voidedReason }),
    productTypeKnown: true,
  };
}
