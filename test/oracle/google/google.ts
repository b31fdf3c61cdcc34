import {
  RTDN_TYPES,
  type DeveloperNotificationDoc,
  type LineItemDoc,
  type SubscriptionPurchaseV2Doc,
  type SubscriptionStateName,
  type VoidedPurchaseDoc,
} from './documents.ts';
import {
  happeningsOf,
  iso,
  MINUTE,
  ofKind,
  PLAY_PRODUCTS,
  type Happening,
  type HappeningKind,
  type Lifecycle,
  type TokenTruth,
} from './truth.ts';

/**
 * A fake Google: what it sends (real-time developer notifications, voided purchases)
 * and what purchases.subscriptionsv2.get answers at any moment, rendered from the truth.
 * It is the oracle's picture of Google's documented behaviour, not of Subledger's.
 */

/** How long Google may still answer ACTIVE about a token a new one just replaced. */
export const BRIEFLY_ACTIVE_MS = 2 * MINUTE;

export interface SentNotification {
  readonly id: number;
  readonly token: string;
  readonly eventTime: number;
  readonly document: DeveloperNotificationDoc;
}

/** What each happening makes Google notify ([RTDN] reference); undefined: nothing. */
const NOTIFIED: {
  [K in HappeningKind]: (h: Extract<Happening, { kind: K }>, token: TokenTruth) => number | undefined;
} = {
  purchased: () => RTDN_TYPES.SUBSCRIPTION_PURCHASED,
  // Also when a paused subscription resumes: a new period was charged.
  renewed: () => RTDN_TYPES.SUBSCRIPTION_RENEWED,
  payment_failed: (h) =>
    h.graceEnd === undefined ? RTDN_TYPES.SUBSCRIPTION_ON_HOLD : RTDN_TYPES.SUBSCRIPTION_IN_GRACE_PERIOD,
  grace_ended: () => RTDN_TYPES.SUBSCRIPTION_ON_HOLD,
  recovered: () => RTDN_TYPES.SUBSCRIPTION_RECOVERED,
  hold_ended: () => RTDN_TYPES.SUBSCRIPTION_EXPIRED,
  canceled: () => RTDN_TYPES.SUBSCRIPTION_CANCELED,
  restarted: () => RTDN_TYPES.SUBSCRIPTION_RESTARTED,
  lapsed: () => RTDN_TYPES.SUBSCRIPTION_EXPIRED,
  pause_scheduled: () => RTDN_TYPES.SUBSCRIPTION_PAUSE_SCHEDULE_CHANGED,
  paused: () => RTDN_TYPES.SUBSCRIPTION_PAUSED,
  resume_failed: () => RTDN_TYPES.SUBSCRIPTION_ON_HOLD,
  deferred: () => RTDN_TYPES.SUBSCRIPTION_DEFERRED,
  price_change: () => RTDN_TYPES.SUBSCRIPTION_PRICE_CHANGE_CONFIRMED,
  revoked: () => RTDN_TYPES.SUBSCRIPTION_REVOKED,
  // A voided purchase comes as a voidedPurchaseNotification (below), not a subscription one.
  voided: () => undefined,
  replaced: (_, token) => (token.whenReplaced.notified ? RTDN_TYPES.SUBSCRIPTION_EXPIRED : undefined),
};

/** Every notification Google sends about the lifecycle, in event time order. */
export function notificationsOf(lifecycle: Lifecycle): SentNotification[] {
  const sent: Omit<SentNotification, 'id'>[] = [];
  const envelope = (eventTime: number) => ({
    version: '1.0' as const,
    packageName: lifecycle.packageName,
    eventTimeMillis: String(eventTime),
  });
  for (const h of lifecycle.happenings) {
    const token = tokenOf(lifecycle, h.token);
    const type = (NOTIFIED[h.kind] as (h: Happening, t: TokenTruth) => number | undefined)(h, token);
    if (type !== undefined) {
      sent.push({
        token: h.token,
        eventTime: h.at,
        document: {
          ...envelope(h.at),
          subscriptionNotification: { version: '1.0', notificationType: type, purchaseToken: h.token },
        },
      });
    }
    if (h.kind === 'voided' && h.notified) {
      sent.push({
        token: h.token,
        eventTime: h.at,
        document: {
          ...envelope(h.at),
          voidedPurchaseNotification: { purchaseToken: h.token, orderId: h.orderId, productType: 1, refundType: 1 },
        },
      });
    }
  }
  return sent.map((n, id) => ({ ...n, id }));
}

/** What voidedpurchases.list returns once the voiding happened: revocations and voided orders. */
export function voidedPurchasesOf(lifecycle: Lifecycle): VoidedPurchaseDoc[] {
  return ofKind(lifecycle.happenings, 'revoked', 'voided').map((h) => ({
    kind: 'androidpublisher#voidedPurchase',
    purchaseToken: h.token,
    orderId: h.orderId,
    purchaseTimeMillis: String(tokenOf(lifecycle, h.token).startTime),
    voidedTimeMillis: String(h.at),
    voidedSource: h.kind === 'revoked' ? 1 : 0,
    voidedReason: h.kind === 'voided' && h.chargeback ? 7 : 1,
  }));
}

/** The instants at which Google's answer about a token changes (including the brief "still active"). */
export function answerChangeTimes(lifecycle: Lifecycle, token: string): number[] {
  const truth = tokenOf(lifecycle, token);
  const replaced = ofKind(happeningsOf(lifecycle, token), 'replaced')[0];
  const flip = replaced && truth.whenReplaced.briefly_active ? [replaced.at + BRIEFLY_ACTIVE_MS] : [];
  return [...happeningsOf(lifecycle, token).map((h) => h.at), ...flip];
}

/**
 * purchases.subscriptionsv2.get about `token`, asked at `t` ([V2] and [LC] in model.ts):
 * the state then, the latest paid order and its expiryTime (the grace end while in grace,
 * the end of access once on hold, paused or expired).
 */
export function subscriptionAnswer(
  lifecycle: Lifecycle,
  token: string,
  t: number,
  acknowledged: boolean,
): SubscriptionPurchaseV2Doc {
  const truth = tokenOf(lifecycle, token);
  const product = PLAY_PRODUCTS[truth.productId]!;
  const past = happeningsOf(lifecycle, token).filter((h) => h.at <= t);
  const orders = ofKind(past, 'purchased', 'renewed', 'recovered');
  const order = orders.at(-1);
  if (!order) throw new Error(`Google was asked about ${token} before it existed`);
  const orderExpiry =
    ofKind(past, 'deferred')
      .filter((d) => d.orderId === order.orderId)
      .at(-1)?.expiry ?? order.expiry;
  const status = statusAt(truth, past, t, orderExpiry);
  const previous = truth.linkedPurchaseToken ? tokenOf(lifecycle, truth.linkedPurchaseToken) : undefined;
  const firstTrialOrder = truth.trial && order.kind === 'purchased';
  const priceChanged = ofKind(past, 'price_change').length > 0;
  const item: LineItemDoc = {
    productId: truth.productId,
    expiryTime: iso(status.expiry),
    latestSuccessfulOrderId: order.orderId,
    autoRenewingPlan: {
      ...(status.autoRenew && { autoRenewEnabled: true as const }),
      ...(priceChanged && { priceChangeDetails: { priceChangeMode: 'PRICE_INCREASE', priceChangeState: 'CONFIRMED' } }),
    },
    offerDetails: {
      basePlanId: product.basePlanId,
      ...(truth.trial && product.trial && { offerId: product.trial.offerId }),
    },
    offerPhase: firstTrialOrder ? { freeTrial: {} } : { basePrice: {} },
    ...(previous && {
      itemReplacement: {
        productId: previous.productId,
        basePlanId: PLAY_PRODUCTS[previous.productId]!.basePlanId,
        replacementMode: 'WITH_TIME_PRORATION',
      },
    }),
  };
  return {
    kind: 'androidpublisher#subscriptionPurchaseV2',
    regionCode: 'FR',
    startTime: iso(truth.startTime),
    subscriptionState: status.state,
    latestOrderId: order.orderId,
    ...(truth.linkedPurchaseToken && { linkedPurchaseToken: truth.linkedPurchaseToken }),
    ...(status.resumeAt !== undefined && { pausedStateContext: { autoResumeTime: iso(status.resumeAt) } }),
    ...(status.canceled && { canceledStateContext: status.canceled }),
    acknowledgementState: acknowledged ? 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED' : 'ACKNOWLEDGEMENT_STATE_PENDING',
    ...(truth.accountIdInDocument && {
      externalAccountIdentifiers: { obfuscatedExternalAccountId: lifecycle.appUserId },
    }),
    lineItems: [item],
  };
}

interface Status {
  readonly state: SubscriptionStateName;
  readonly expiry: number;
  readonly autoRenew: boolean;
  readonly resumeAt?: number;
  readonly canceled?: SubscriptionPurchaseV2Doc['canceledStateContext'];
}

function statusAt(truth: TokenTruth, past: readonly Happening[], t: number, orderExpiry: number): Status {
  const cancelTime = ofKind(past, 'canceled').at(-1)?.at ?? truth.startTime;
  const ended = ofKind(past, 'revoked', 'voided', 'replaced', 'lapsed', 'hold_ended')[0];
  const stillActive =
    ended?.kind === 'replaced' && truth.whenReplaced.briefly_active && t < ended.at + BRIEFLY_ACTIVE_MS;
  if (ended && !stillActive) {
    const expired = (expiry: number, canceled: Status['canceled']): Status => ({
      state: 'SUBSCRIPTION_STATE_EXPIRED',
      expiry,
      autoRenew: false,
      canceled,
    });
    switch (ended.kind) {
      case 'revoked':
        return expired(ended.at, { developerInitiatedCancellation: {} });
      case 'voided':
        return expired(
          ended.at,
          ended.chargeback ? { systemInitiatedCancellation: {} } : { developerInitiatedCancellation: {} },
        );
      case 'lapsed':
        return expired(orderExpiry, { userInitiatedCancellation: { cancelTime: iso(cancelTime) } });
      case 'hold_ended':
        return expired(accessEndBeforeHold(past), { systemInitiatedCancellation: {} });
      case 'replaced':
        return expired(truth.whenReplaced.expiry === 'cut' ? ended.at : orderExpiry, { replacementCancellation: {} });
    }
  }
  const phase = ofKind(
    past,
    'purchased',
    'renewed',
    'recovered',
    'restarted',
    'canceled',
    'payment_failed',
    'grace_ended',
    'paused',
    'resume_failed',
  ).at(-1)!;
  switch (phase.kind) {
    case 'canceled':
      return {
        state: 'SUBSCRIPTION_STATE_CANCELED',
        expiry: orderExpiry,
        autoRenew: false,
        canceled: { userInitiatedCancellation: { cancelTime: iso(phase.at) } },
      };
    case 'payment_failed':
      if (phase.graceEnd !== undefined) {
        return { state: 'SUBSCRIPTION_STATE_IN_GRACE_PERIOD', expiry: phase.graceEnd, autoRenew: true };
      }
      return { state: 'SUBSCRIPTION_STATE_ON_HOLD', expiry: phase.at, autoRenew: true };
    case 'grace_ended':
    case 'resume_failed':
      return { state: 'SUBSCRIPTION_STATE_ON_HOLD', expiry: accessEndBeforeHold(past), autoRenew: true };
    case 'paused':
      return { state: 'SUBSCRIPTION_STATE_PAUSED', expiry: phase.at, autoRenew: true, resumeAt: phase.resumeAt };
    default:
      return { state: 'SUBSCRIPTION_STATE_ACTIVE', expiry: orderExpiry, autoRenew: true };
  }
}

/** When access ended before the account hold: the grace end, the failed renewal, or the pause start. */
function accessEndBeforeHold(past: readonly Happening[]): number {
  const failure = ofKind(past, 'payment_failed', 'resume_failed').at(-1)!;
  if (failure.kind === 'payment_failed') return failure.graceEnd ?? failure.at;
  return ofKind(past, 'paused').at(-1)!.at;
}

export function tokenOf(lifecycle: Lifecycle, token: string): TokenTruth {
  const found = lifecycle.tokens.find((t) => t.token === token);
  if (!found) throw new Error(`No token ${token}`);
  return found;
}
