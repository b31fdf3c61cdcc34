import { happeningsOf, iso, ofKind, PLAY_PRODUCTS, type Happening, type Lifecycle, type TokenTruth } from './truth.ts';

/**
 * The oracle: who has access when, from the ground truth (truth.ts) and Google's
 * documentation alone. Deliberately not Subledger's formulation: no documents, no
 * facts, no fold. Each token's access is a union of intervals (paid periods and grace
 * periods) cut where Google ends the token; the answer at an instant reads them, as
 * known at that instant: what had happened by then counts (a renewal charged, a failed
 * charge, a revocation), what happened later does not (the App Store oracle reads its
 * documents the same way).
 *
 * Not modelled: prepaid plans, installments, add-ons (several line items), deferred
 * product changes (deferredItemReplacement), pending purchases, Google's refund of
 * purchases left unacknowledged for three days, cancellation or revocation while in
 * grace, on hold or paused, one-time products.
 *
 * Sources (paraphrased):
 * [LC]  https://developer.android.com/google/play/billing/lifecycle/subscriptions
 * [V2]  https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.subscriptionsv2
 * [RTDN] https://developer.android.com/google/play/billing/rtdn-reference
 * [VOID] https://developers.google.com/android-publisher/voided-purchases
 * [LINK] https://medium.com/androiddevelopers/implementing-linkedpurchasetoken-correctly-to-prevent-duplicate-subscriptions-82dfbf7167da
 */

export interface Interval {
  readonly from: number;
  readonly until: number;
}

/**
 * What the customer has for one entitlement at an instant. `token` is the purchase that
 * grants it: the one giving access at that instant, else the one whose access ended last.
 */
export interface ModelAnswer {
  readonly token: string;
  /** The instant lies in one of the token's access intervals. */
  readonly active: boolean;
  /**
   * When access ends as known at the instant: the end of the token's access interval
   * covering it, else of its last one before, from what had happened by then (a renewal
   * charged later, or a refund made later, does not change it).
   */
  readonly expiresAt: string | null;
  /** Google's autoRenewEnabled then, for a subscription that is not over (expired, revoked, replaced). */
  readonly willRenew: boolean;
  readonly storeProductId: string;
  /** A renewal payment failed and was not settled: grace period, account hold, or expired unpaid. */
  readonly billingIssue: boolean;
}

/** The paid periods: each order gives [its period start, its expiry). */
function paidPeriods(happenings: readonly Happening[]): Interval[] {
  // A deferral moves the expiry of the order it names ([V2] purchases.subscriptionsv2.defer:
  // "defers the renewal"; the line item's expiryTime is the new date). The latest one counts.
  const expiryOf = (orderId: string, paidUntil: number) =>
    ofKind(happenings, 'deferred')
      .filter((d) => d.orderId === orderId)
      .at(-1)?.expiry ?? paidUntil;
  return [
    // [LC] New purchases: access from the purchase until lineItems[].expiryTime.
    ...ofKind(happenings, 'purchased').map((p) => ({ from: p.at, until: expiryOf(p.orderId, p.expiry) })),
    // [LC] Renewals (SUBSCRIPTION_RENEWED, possibly charged a little before the expiry) and
    // resumes after a pause continue access from the period start. [LC] Recovery: from grace
    // the renewal date is unchanged; from account hold the new period starts at recovery.
    ...ofKind(happenings, 'renewed', 'recovered').map((r) => ({
      from: r.periodStart,
      until: expiryOf(r.orderId, r.expiry),
    })),
  ];
}

/** [LC] Grace period: the user keeps access while Google retries the payment, until the grace end. */
function gracePeriods(happenings: readonly Happening[]): Interval[] {
  return ofKind(happenings, 'payment_failed').flatMap((f) =>
    f.graceEnd === undefined ? [] : [{ from: f.at, until: f.graceEnd }],
  );
}

/**
 * When Google takes access away at once, for good:
 * - [RTDN] SUBSCRIPTION_REVOKED: revoked before its expiry; [V2] revoke: access ends now.
 * - [VOID] a voided (refunded, charged back) order: revoke what it bought from voidedTimeMillis.
 * - [LINK] an upgrade or downgrade: the old token must not grant access once the new one,
 *   which names it as linkedPurchaseToken, exists (even if Google briefly says both are active).
 */
function cutOf(happenings: readonly Happening[]): number {
  return Math.min(Infinity, ...ofKind(happenings, 'revoked', 'voided', 'replaced').map((h) => h.at));
}

/**
 * The token's access as known at `asOf` (from what had happened by then: orders charged,
 * deferrals, failed charges, revocations), as disjoint sorted intervals. Account hold
 * ([LC]: no access until the payment is fixed) and pause ([LC]: no access while paused)
 * are simply not in it: no period was paid for them.
 */
export function accessIntervals(lifecycle: Lifecycle, token: string, asOf = Infinity): Interval[] {
  const happenings = happeningsOf(lifecycle, token).filter((h) => h.at <= asOf);
  const cut = cutOf(happenings);
  return union(
    [...paidPeriods(happenings), ...gracePeriods(happenings)].map((i) => ({
      from: i.from,
      until: Math.min(i.until, cut),
    })),
  );
}

/**
 * From each failed charge until it is settled by a payment (or the token ends by revocation
 * or replacement). [LC] grace period and account hold: the user must fix the payment
 * method; when the hold ends unpaid the subscription expires because billing failed
 * (canceledStateContext.systemInitiatedCancellation), and that is still the customer's
 * payment problem (the App Store oracle reads expirationIntent 2 the same way).
 */
export function billingIssueIntervals(lifecycle: Lifecycle, token: string): Interval[] {
  const happenings = happeningsOf(lifecycle, token);
  const settled = ofKind(happenings, 'recovered', 'revoked', 'voided', 'replaced');
  return union(
    ofKind(happenings, 'payment_failed', 'resume_failed').map((f) => ({
      from: f.at,
      until: Math.min(Infinity, ...settled.filter((s) => s.at > f.at).map((s) => s.at)),
    })),
  );
}

/**
 * [V2] autoRenewingPlan.autoRenewEnabled: on from the purchase, off when the user cancels
 * ([RTDN] SUBSCRIPTION_CANCELED), on again when they restore ([RTDN] SUBSCRIPTION_RESTARTED);
 * it stays on while paused (Google resumes by itself) and in grace or on hold (Google keeps
 * retrying the charge). Over once expired ([LC] SUBSCRIPTION_STATE_EXPIRED), revoked or replaced.
 */
export function willRenewAt(lifecycle: Lifecycle, token: TokenTruth, t: number): boolean {
  const happenings = happeningsOf(lifecycle, token.token).filter((h) => h.at <= t);
  if (t < token.startTime) return false;
  if (ofKind(happenings, 'revoked', 'voided', 'replaced', 'lapsed', 'hold_ended').length > 0) return false;
  const last = ofKind(happenings, 'purchased', 'renewed', 'recovered', 'restarted', 'canceled').at(-1);
  return last !== undefined && last.kind !== 'canceled';
}

/** The customer's answer for one entitlement at `t`; undefined before any purchase unlocking it. */
export function answerAt(lifecycle: Lifecycle, entitlement: string, t: number): ModelAnswer | undefined {
  const candidates = lifecycle.tokens
    .filter((token) => PLAY_PRODUCTS[token.productId]!.entitlements.includes(entitlement) && token.startTime <= t)
    .map((token) => {
      const intervals = accessIntervals(lifecycle, token.token, t);
      const covering = intervals.find((i) => i.from <= t && t < i.until);
      const before = intervals.filter((i) => i.until <= t).at(-1);
      return { token, covering, interval: covering ?? before };
    });
  // Tokens replace one another, so at most one gives access at `t`; else the latest to end.
  const chosen =
    candidates.find((c) => c.covering) ??
    candidates.reduce<(typeof candidates)[number] | undefined>(
      (best, c) => (!best || (c.interval?.until ?? -Infinity) > (best.interval?.until ?? -Infinity) ? c : best),
      undefined,
    );
  if (!chosen) return undefined;
  const { token } = chosen;
  return {
    token: token.token,
    active: chosen.covering !== undefined,
    expiresAt: chosen.interval ? iso(chosen.interval.until) : null,
    willRenew: willRenewAt(lifecycle, token, t),
    storeProductId: token.productId,
    billingIssue: billingIssueIntervals(lifecycle, token.token).some((i) => i.from <= t && t < i.until),
  };
}

/** Sorted, with overlapping or touching intervals merged and empty ones dropped. */
export function union(intervals: readonly Interval[]): Interval[] {
  const sorted = intervals.filter((i) => i.until > i.from).sort((a, b) => a.from - b.from);
  const merged: Interval[] = [];
  for (const i of sorted) {
    const last = merged.at(-1);
    if (last && i.from <= last.until)
      merged[merged.length - 1] = { from: last.from, until: Math.max(last.until, i.until) };
    else merged.push(i);
  }
  return merged;
}
