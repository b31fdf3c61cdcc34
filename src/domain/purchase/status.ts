import { millis, type Timestamp } from '../time.ts';
import { reportedAtOf, transactionsWithKnownStarts } from './period-start.ts';
import type { ExpirationReason, LinkSource, Ownership, PeriodType, Transaction } from './events.ts';
import type {
  AppliedProductChange,
  BillingState,
  Observed,
  Pause,
  PendingProductChange,
  PurchaseState,
  Revocation,
  Timeline,
} from './state.ts';

/** What a purchase means at one moment: the answer support and the read model need. */
export interface PurchaseStatus {
  readonly kind: 'subscription' | 'one_time' | 'unknown';
  /** The period that covers the moment, or the last one that began before it. */
  readonly current?: Transaction;
  /** The next paid period, already known (a renewal charged before its period begins). */
  readonly next?: Transaction;
  readonly storeProductId?: string;
  /**
   * When access runs: from the current period's start until access stops, through
   * any paid periods that follow without a gap; `until` null for purchases that never
   * expire. Absent: no access ever.
   */
  readonly access?: { readonly from: Timestamp; readonly until: Timestamp | null };
  readonly periodType?: PeriodType;
  readonly ownership?: Ownership;
  readonly willRenew: boolean;
  readonly billing: BillingState['status'];
  readonly gracePeriodEndsAt?: Timestamp;
  readonly billingIssueDetectedAt?: Timestamp;
  readonly unsubscribeDetectedAt?: Timestamp;
  readonly expiration?: { readonly reason: ExpirationReason; readonly observedAt: Timestamp };
  readonly revocation?: Revocation;
  readonly pendingProductChange?: PendingProductChange;
  readonly lastProductChange?: AppliedProductChange;
  readonly pause?: Pause;
  readonly owner?: { readonly appUserId: string; readonly via: LinkSource };
  /** The earliest transaction's purchase time: when this purchase began. */
  readonly firstPurchasedAt?: Timestamp;
  /** The store time of the newest observation counted: when the store last said something about it. */
  readonly lastObservedAt?: Timestamp;
}

/**
 * The purchase as it stood at `at`, from what we know now ("as we know it now about
 * then"). Every answer Subledger gives is this, for the instant asked about: a period
 * counts from its start (a renewal the store charged and notified early does not
 * replace the period still running), and facts count from their store time (a refund
 * ends access at its revocation time, not before; a refund of a later period does not
 * touch an earlier one).
 */
export function purchaseStatusAt(state: PurchaseState, at: Timestamp): PurchaseStatus {
  const last = lastWorkedOut.get(state);
  if (last?.at === at) return last.status;
  const status = workOutStatusAt(state, at);
  lastWorkedOut.set(state, { at, status });
  return status;
}

/**
 * The last status worked out for each state, and the moment it was for. A state is never
 * changed (each fact makes a new one), so a state at a moment always has the same status.
 * The customer events of a notification ask for it again and again: each fact's state
 * before is the last fact's state after, at the same store time, and each is read for the
 * fact's own event and for the customer's entitlements with and without it. One moment per
 * state, so a state asked about at ever new moments (now, by the app API) holds one answer.
 */
const lastWorkedOut = new WeakMap<PurchaseState, { readonly at: Timestamp; readonly status: PurchaseStatus }>();

function workOutStatusAt(state: PurchaseState, at: Timestamp): PurchaseStatus {
  const cutoff = millis(at);
  const seen = <T>(timeline: Timeline<T>) => timeline.filter((o) => millis(o.observedAt) <= cutoff);

  const transactions = transactionsWithKnownStarts(state);
  const begun = transactions.filter((t) => millis(t.purchasedAt) <= cutoff);
  // The whole subscription's end, once it has come: it ends every period still running then.
  const ended = state.subscriptionRevocations
    .map((o) => o.value)
    .filter((r) => millis(r.revokedAt) <= cutoff)
    .sort((a, b) => millis(a.revokedAt) - millis(b.revokedAt))[0];
  const revocationOf = (t: Transaction): Revocation | undefined => {
    const own = state.revocations[t.transactionId]?.value;
    const revocation = own && millis(own.revokedAt) <= cutoff ? own : undefined;
    if (!ended) return revocation;
    return revocation && millis(revocation.revokedAt) <= millis(ended.revokedAt) ? revocation : ended;
  };
  // The latest period to have begun decides; a refund or revocation of it ends access early.
  const current = latestTransaction(begun);
  const kind = !current ? 'unknown' : transactions.some((t) => t.expiresAt !== undefined) ? 'subscription' : 'one_time';
  const sinceCurrent = <T>(timeline: Timeline<T>) =>
    current ? timeline.filter((o) => millis(o.observedAt) >= millis(current.purchasedAt)) : timeline;

  const billingTimeline = seen(state.billing);
  const billing = billingTimeline.at(-1)?.value ?? { status: 'ok' as const };
  const autoRenewTimeline = seen(state.autoRenew);
  const autoRenew = autoRenewTimeline.at(-1)?.value ?? true;
  const expiration = sinceCurrent(seen(state.expirations)).at(-1);
  const pendingChange = sinceCurrent(seen(state.productChange)).at(-1)?.value ?? undefined;
  const pause = seen(state.pause).at(-1)?.value ?? undefined;
  const revocation = current ? revocationOf(current) : undefined;

  // A grace period extends the period it followed, and only that one: once it is over
  // (or billing moved on to a retry or a hold) access still ended at its end.
  // (Observed after it began: a failure reported at the very instant a recovery's period
  // begins is the one before it.)
  const graceObserved = billingTimeline
    .filter((o) => current && millis(o.observedAt) > millis(current.purchasedAt))
    .map((o) => o.value)
    .filter((b) => b.status === 'grace')
    .at(-1);
  const grace = graceObserved?.gracePeriodEndsAt;

  // Periods yet to begin that the store had already charged, soonest first, each cut by
  // a revocation already effective.
  const reportedAt = (t: Transaction) => millis(reportedAtOf(state, t.transactionId));
  const upcoming = transactions
    .filter((t) => millis(t.purchasedAt) > cutoff && reportedAt(t) <= cutoff)
    .map((t) => ({ transaction: t, window: accessWindow(t, undefined, revocationOf(t)) }))
    .filter((u) => u.window !== undefined)
    // Two periods charged to start at the same instant: the order they were reported in
    // must not matter, so their ids decide.
    .sort(
      (a, b) =>
        millis(a.transaction.purchasedAt) - millis(b.transaction.purchasedAt) ||
        (a.transaction.transactionId < b.transaction.transactionId ? -1 : 1),
    );
  const billingIssueDetectedAt = billingIssueSince(billingTimeline, billing, expiration);
  const owner = ownerAt(seen(state.links));
  const lastObservedAt = lastObservation(state, cutoff);
  const access =
    current &&
    continuousAccess(
      accessWindow(current, grace, revocation),
      upcoming.map((u) => u.window!),
    );

  return {
    kind,
    ...(current && {
      current,
      storeProductId: current.productId,
      periodType: current.periodType,
      ownership: current.ownership,
    }),
    ...(current && upcoming[0] && { next: upcoming[0].transaction }),
    ...(access && { access }),
    // On hold, the store keeps retrying the charge: it still renews once paid.
    willRenew: kind === 'subscription' && autoRenew && !expiration && !revocation,
    billing: billing.status,
    ...(grace && { gracePeriodEndsAt: grace }),
    ...(billingIssueDetectedAt && { billingIssueDetectedAt }),
    ...(!autoRenew && { unsubscribeDetectedAt: firstOfTrailingRun(autoRenewTimeline, (on) => !on) }),
    ...(expiration && { expiration: { reason: expiration.value, observedAt: expiration.observedAt } }),
    ...(revocation && { revocation }),
    ...(pendingChange && { pendingProductChange: pendingChange }),
    ...(seen(state.appliedProductChanges).length > 0 && {
      lastProductChange: seen(state.appliedProductChanges).at(-1)!.value,
    }),
    ...(pause && { pause }),
    ...(owner && { owner }),
    ...(begun.length > 0 && { firstPurchasedAt: earliest(begun.map((t) => t.purchasedAt)) }),
    ...(lastObservedAt && { lastObservedAt }),
  };
}

/** The last instant a timestamp can name: the status once everything known has taken effect. */
export const END_OF_TIME: Timestamp = new Date(8.64e15).toISOString();

/**
 * The purchase once everything known has taken effect: its latest period, every
 * refund applied. For jobs that ask about a purchase's latest state (the Apple re-check
 * of lapsed subscriptions, the catalog report), never for an answer about a moment.
 */
export function finalStatus(state: PurchaseState): PurchaseStatus {
  return purchaseStatusAt(state, END_OF_TIME);
}

/** Who the purchase belongs to, every link counted. */
export function ownerOf(state: PurchaseState): PurchaseStatus['owner'] {
  return ownerAt(state.links);
}

function earliest(times: readonly Timestamp[]): Timestamp {
  return times.reduce((a, b) => (millis(b) < millis(a) ? b : a));
}

/** The newest store time of any observation up to the cutoff, over every register and timeline. */
function lastObservation(state: PurchaseState, cutoff: number): Timestamp | undefined {
  let last: Timestamp | undefined;
  const consider = (observations: readonly Observed<unknown>[]) => {
    for (const o of observations) {
      const t = millis(o.observedAt);
      if (t <= cutoff && (last === undefined || t > millis(last))) last = o.observedAt;
    }
  };
  consider(Object.values(state.transactions));
  consider(Object.values(state.revocations));
  for (const timeline of [
    state.billing,
    state.autoRenew,
    state.productChange,
    state.appliedProductChanges,
    state.expirations,
    state.pause,
    state.links,
    state.notices,
    state.subscriptionRevocations,
  ]) {
    consider(timeline);
  }
  return last;
}

/** Whether the purchase gives access at `at`. */
export function hasAccessAt(status: PurchaseStatus, at: Timestamp): boolean {
  if (!status.access) return false;
  const t = millis(at);
  return millis(status.access.from) <= t && (status.access.until === null || t < millis(status.access.until));
}

type AccessWindow = NonNullable<PurchaseStatus['access']>;

/** From the period's start to its end (or grace end), cut short by a revocation; undefined if empty. */
function accessWindow(
  current: Transaction,
  gracePeriodEndsAt: Timestamp | undefined,
  revocation: Revocation | undefined,
): AccessWindow | undefined {
  let until: Timestamp | null = current.expiresAt ?? null;
  if (until !== null && gracePeriodEndsAt && millis(gracePeriodEndsAt) > millis(until)) until = gracePeriodEndsAt;
  if (revocation && (until === null || millis(revocation.revokedAt) < millis(until))) until = revocation.revokedAt;
  if (until !== null && millis(until) <= millis(current.purchasedAt)) return undefined;
  return { from: current.purchasedAt, until };
}

/** The current window, carried on through each following paid window that begins before it ends. */
function continuousAccess(
  window: AccessWindow | undefined,
  following: readonly AccessWindow[],
): AccessWindow | undefined {
  if (!window) return undefined;
  let until = window.until;
  for (const next of following) {
    if (until === null || millis(next.from) > millis(until)) break;
    if (next.until === null || millis(next.until) > millis(until)) until = next.until;
  }
  return { from: window.from, until };
}

/** The newest period: latest start, then latest end (never-expiring last), then id. */
function latestTransaction(transactions: readonly Transaction[]): Transaction | undefined {
  const end = (t: Transaction) => (t.expiresAt === undefined ? Number.POSITIVE_INFINITY : millis(t.expiresAt));
  return transactions.reduce<Transaction | undefined>((best, t) => {
    if (!best) return t;
    const order =
      millis(t.purchasedAt) - millis(best.purchasedAt) ||
      end(t) - end(best) ||
      (t.transactionId > best.transactionId ? 1 : -1);
    return order > 0 ? t : best;
  }, undefined);
}

/**
 * Since when the customer has had a payment problem: billing failing now, or the
 * subscription expired because it failed (when the failure itself was never reported,
 * the expiry is when we learnt of it).
 */
function billingIssueSince(
  billingTimeline: Timeline<BillingState>,
  billing: BillingState,
  expiration: Observed<ExpirationReason> | undefined,
): Timestamp | undefined {
  if (billing.status !== 'ok') return firstOfTrailingRun(billingTimeline, (b) => b.status !== 'ok');
  return expiration?.value === 'billing_error' ? expiration.observedAt : undefined;
}

/** When the timeline's current condition began: the first of the newest run of matching observations. */
function firstOfTrailingRun<T>(timeline: Timeline<T>, matches: (value: T) => boolean): Timestamp | undefined {
  let first: Observed<T> | undefined;
  for (let i = timeline.length - 1; i >= 0 && matches(timeline[i]!.value); i--) first = timeline[i];
  return first?.observedAt;
}

/**
 * Who the purchase belongs to: the latest transfer (by support staff, or by a restore
 * on another account where the app transfers on restore); else the account token the
 * store reports; else the first app user who claimed it (a later claim by someone
 * else does not take it over). A function of the set of links, so arrival order
 * does not matter.
 */
function ownerAt(links: Timeline<{ appUserId: string; via: LinkSource }>) {
  const byVia = (...via: LinkSource[]) => links.filter((l) => via.includes(l.value.via));
  return (
    byVia('support_transfer', 'restore_transfer').at(-1)?.value ??
    byVia('app_account_token').at(-1)?.value ??
    byVia('app_submission')[0]?.value
  );
}
