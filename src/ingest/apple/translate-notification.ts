import type { OfferType, PurchaseEvent, Transaction } from '../../domain/purchase/events.ts';
import type { Environment, PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import { toTimestamp } from '../../domain/time.ts';
import type {
  AppleEnvironment,
  AppleRenewalInfo,
  AppleTransaction,
  VerifiedAppleNotification,
} from './apple-payloads.ts';
import { Refusal } from '../../domain/refusal.ts';

/**
 * What one verified App Store notification means in Subledger's terms. Pure.
 *
 * The signed transaction and renewal info are the facts; the notification type
 * only adds what they cannot say (a recovery, an expiry reason, a reversal).
 * Everything is observed at the notification's `signedDate`, Apple's measure of
 * recency, so the core's merge keeps the newest whatever the arrival order.
 */
export type AppleTranslation =
  | {
      readonly kind: 'purchase';
      readonly key: PurchaseKey;
      readonly facts: PurchaseEvent[];
      /** False for a type or subtype this version does not know: recorded as a notice, and reported. */
      readonly known: boolean;
    }
  /** Notifications about no single purchase (TEST, a renewal-extension summary, ...). */
  | { readonly kind: 'no_purchase'; readonly notice: string; readonly known: boolean };

/** Every type and subtype Apple documents; `''` stands for "no subtype". */
export const KNOWN_APPLE_NOTIFICATION_TYPES: Readonly<Record<string, readonly string[]>> = {
  SUBSCRIBED: ['INITIAL_BUY', 'RESUBSCRIBE'],
  DID_RENEW: ['', 'BILLING_RECOVERY'],
  DID_FAIL_TO_RENEW: ['', 'GRACE_PERIOD'],
  GRACE_PERIOD_EXPIRED: [''],
  EXPIRED: ['VOLUNTARY', 'BILLING_RETRY', 'PRICE_INCREASE', 'PRODUCT_NOT_FOR_SALE'],
  DID_CHANGE_RENEWAL_PREF: ['', 'UPGRADE', 'DOWNGRADE'],
  DID_CHANGE_RENEWAL_STATUS: ['AUTO_RENEW_ENABLED', 'AUTO_RENEW_DISABLED'],
  OFFER_REDEEMED: ['', 'INITIAL_BUY', 'RESUBSCRIBE', 'UPGRADE', 'DOWNGRADE'],
  PRICE_INCREASE: ['PENDING', 'ACCEPTED'],
  REFUND: [''],
  REFUND_DECLINED: [''],
  REFUND_REVERSED: [''],
  REVOKE: [''],
  CONSUMPTION_REQUEST: [''],
  RENEWAL_EXTENDED: [''],
  RENEWAL_EXTENSION: ['SUMMARY', 'FAILURE'],
  TEST: [''],
  ONE_TIME_CHARGE: [''],
  EXTERNAL_PURCHASE_TOKEN: ['', 'UNREPORTED'],
  METADATA_UPDATE: [''],
  MIGRATION: [''],
  PRICE_CHANGE: [''],
  RESCIND_CONSENT: [''],
};

/** Types whose effect is fully in the signed transaction and renewal info (or that have none). */
const NOTICE_ONLY = new Set([
  'PRICE_INCREASE',
  'REFUND_DECLINED',
  'CONSUMPTION_REQUEST',
  'RENEWAL_EXTENSION',
  'TEST',
  'EXTERNAL_PURCHASE_TOKEN',
  'METADATA_UPDATE',
  'MIGRATION',
  'PRICE_CHANGE',
  'RESCIND_CONSENT',
]);

const EXPIRATION_REASONS = {
  VOLUNTARY: 'voluntary',
  BILLING_RETRY: 'billing_error',
  PRICE_INCREASE: 'price_increase_declined',
  PRODUCT_NOT_FOR_SALE: 'product_unavailable',
} as const;
const EXPIRATION_INTENTS = [
  'other',
  'voluntary',
  'billing_error',
  'price_increase_declined',
  'product_unavailable',
] as const;
const OFFER_TYPES: Record<number, OfferType> = { 1: 'introductory', 2: 'promotional', 3: 'offer_code', 4: 'win_back' };

export class UnsupportedAppleEnvironment extends Refusal<'unsupported_environment'> {
  readonly environment: string;

  constructor(environment: string) {
    super(
      'invalid',
      'unsupported_environment',
      `App Store environment ${environment} is not recorded (only Production and Sandbox are)`,
    );
    this.environment = environment;
  }
}

export function translateAppleNotification({
  notification,
  transaction,
  renewalInfo,
}: VerifiedAppleNotification): AppleTranslation {
  const { notificationType: type, subtype = '' } = notification;
  const known = KNOWN_APPLE_NOTIFICATION_TYPES[type]?.includes(subtype) ?? false;
  const notice = `apple:${type}${subtype ? `/${subtype}` : ''}`;
  if (!transaction) return { kind: 'no_purchase', notice, known };

  const at = observedAt(notification.signedDate);
  const facts: PurchaseEvent[] = [...transactionFacts(type, transaction, at)];
  const subscription = transaction.type === 'Auto-Renewable Subscription';
  if (subscription && renewalInfo) facts.push(...renewalFacts(subtype, transaction, renewalInfo, at));

  switch (type) {
    case 'DID_RENEW':
      if (subtype === 'BILLING_RECOVERY') facts.push(at('BillingRecovered', {}));
      break;
    case 'DID_FAIL_TO_RENEW':
      if (!facts.some((f) => f.type === 'RenewalFailed')) facts.push(at('RenewalFailed', graceOf(renewalInfo)));
      break;
    case 'GRACE_PERIOD_EXPIRED':
      facts.push(at('GracePeriodExpired', {}));
      break;
    case 'EXPIRED':
      facts.push(at('SubscriptionExpired', { reason: expirationReason(subtype, renewalInfo) }));
      break;
    case 'DID_CHANGE_RENEWAL_PREF':
      if (subtype === 'UPGRADE') {
        facts.push(at('ProductChangeApplied', { toProductId: transaction.productId, change: 'upgrade' }));
      }
      break;
    case 'REFUND_REVERSED':
      facts.push(at('RefundReversed', { transactionId: transaction.transactionId }));
      break;
  }
  if (!known || NOTICE_ONLY.has(type)) facts.push(at('StoreNoticeRecorded', { notice }));

  return { kind: 'purchase', key: purchaseKeyOf(transaction), facts, known };
}

/**
 * What a signed transaction, and the renewal info that may come with it, say on
 * their own: a StoreKit 2 purchase an app submits, an answer of the App Store Server
 * API. Each is observed at its own `signedDate`: Apple signs them when asked, so
 * that is when they were true.
 */
export function translateAppleTransaction({
  transaction,
  renewalInfo,
}: {
  readonly transaction: AppleTransaction;
  readonly renewalInfo?: AppleRenewalInfo;
}): { key: PurchaseKey; facts: PurchaseEvent[] } {
  const at = observedAt(transaction.signedDate);
  const facts = transactionFacts('', transaction, at);
  // Apple's answer is its whole word on the transaction as it stands when signed: no
  // revocation date means any refund recorded earlier was reversed (a REFUND_REVERSED
  // notification may have been lost). Observed at its signing, so an older document
  // arriving late never undoes a newer refund.
  if (transaction.revocationDate === undefined) {
    facts.push(at('RefundReversed', { transactionId: transaction.transactionId }));
  }
  if (transaction.type === 'Auto-Renewable Subscription' && renewalInfo) {
    const renewalAt = observedAt(renewalInfo.signedDate);
    facts.push(...renewalFacts('', transaction, renewalInfo, renewalAt));
    // Apple gives an expiration intent only once the subscription has expired.
    if (renewalInfo.expirationIntent !== undefined && !renewalInfo.isInBillingRetryPeriod) {
      facts.push(renewalAt('SubscriptionExpired', { reason: expirationReason('', renewalInfo) }));
    }
  }
  return { key: purchaseKeyOf(transaction), facts };
}

export function purchaseKeyOf(transaction: AppleTransaction): PurchaseKey {
  return {
    store: 'app_store',
    environment: environmentOf(transaction.environment),
    purchaseId: transaction.originalTransactionId,
  };
}

function observedAt(time: number): At {
  const at = toTimestamp(time);
  return (type, data) => ({ type, data: { ...data, observedAt: at } }) as PurchaseEvent;
}

type FactOf<T extends PurchaseEvent['type']> = Extract<PurchaseEvent, { type: T }>;
/** Builds a fact of `type`, observed at the notification's time. */
type At = <T extends PurchaseEvent['type']>(type: T, data: Omit<FactOf<T>['data'], 'observedAt'>) => PurchaseEvent;

function transactionFacts(type: string, t: AppleTransaction, at: At): PurchaseEvent[] {
  const facts: PurchaseEvent[] = [];
  const transaction = toTransaction(t);
  if (t.type !== 'Auto-Renewable Subscription') {
    facts.push(at('OneTimeProductPurchased', { transaction }));
  } else if (type === 'RENEWAL_EXTENDED') {
    facts.push(at('RenewalExtended', { transaction }));
  } else {
    const first = t.transactionId === t.originalTransactionId;
    facts.push(at(first ? 'SubscriptionStarted' : 'SubscriptionRenewed', { transaction }));
  }
  if (t.appAccountToken)
    facts.push(at('PurchaseLinkedToAppUser', { appUserId: t.appAccountToken, via: 'app_account_token' }));
  if (t.revocationDate !== undefined) {
    const revokedAt = toTimestamp(t.revocationDate);
    if (t.isUpgraded) {
      facts.push(at('TransactionRevoked', { transactionId: t.transactionId, revokedAt, reason: 'upgraded' }));
    } else if (type === 'REVOKE') {
      facts.push(
        at('TransactionRevoked', { transactionId: t.transactionId, revokedAt, reason: 'family_sharing_revoked' }),
      );
    } else {
      facts.push(at('TransactionRefunded', { transactionId: t.transactionId, refundedAt: revokedAt }));
    }
  }
  return facts;
}

function renewalFacts(subtype: string, t: AppleTransaction, r: AppleRenewalInfo, at: At): PurchaseEvent[] {
  const facts: PurchaseEvent[] = [];
  if (r.autoRenewStatus !== undefined)
    facts.push(at(r.autoRenewStatus === 1 ? 'AutoRenewTurnedOn' : 'AutoRenewTurnedOff', {}));
  if (r.autoRenewProductId && r.autoRenewProductId !== t.productId) {
    const change = subtype === 'UPGRADE' ? 'upgrade' : subtype === 'DOWNGRADE' ? 'downgrade' : 'crossgrade';
    facts.push(at('ProductChangeScheduled', { toProductId: r.autoRenewProductId, change }));
  } else if (r.autoRenewProductId) {
    facts.push(at('ProductChangeCancelled', {}));
  }
  if (r.isInBillingRetryPeriod) facts.push(at('RenewalFailed', graceOf(r)));
  return facts;
}

function toTransaction(t: AppleTransaction): Transaction {
  const offer = t.offerType !== undefined ? OFFER_TYPES[t.offerType] : undefined;
  return {
    transactionId: t.transactionId,
    productId: t.productId,
    purchasedAt: toTimestamp(t.purchaseDate),
    ...(t.expiresDate !== undefined && { expiresAt: toTimestamp(t.expiresDate) }),
    periodType: t.offerDiscountType === 'FREE_TRIAL' ? 'trial' : t.offerType === 1 ? 'intro' : 'normal',
    ownership: t.inAppOwnershipType === 'FAMILY_SHARED' ? 'family_shared' : 'purchased',
    ...(offer && { offer: { type: offer, ...(t.offerIdentifier && { id: t.offerIdentifier }) } }),
    ...(t.price !== undefined && t.currency && { price: { amount: fromMilliunits(t.price), currency: t.currency } }),
  };
}

/** Apple's milliunits as a decimal amount: 9990 is "9.99", 1000 is "1". */
function fromMilliunits(milliunits: number): string {
  const whole = Math.floor(milliunits / 1000);
  const fraction = String(milliunits % 1000)
    .padStart(3, '0')
    .replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : String(whole);
}

function graceOf(renewalInfo: AppleRenewalInfo | undefined) {
  const grace = renewalInfo?.gracePeriodExpiresDate;
  return grace !== undefined ? { gracePeriodEndsAt: toTimestamp(grace) } : {};
}

function expirationReason(subtype: string, renewalInfo: AppleRenewalInfo | undefined) {
  if (subtype in EXPIRATION_REASONS) return EXPIRATION_REASONS[subtype as keyof typeof EXPIRATION_REASONS];
  return EXPIRATION_INTENTS[renewalInfo?.expirationIntent ?? 0] ?? 'other';
}

function environmentOf(environment: AppleEnvironment): Environment {
  if (environment === 'Production') return 'production';
  if (environment === 'Sandbox') return 'sandbox';
  throw new UnsupportedAppleEnvironment(environment);
}
