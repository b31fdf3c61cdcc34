import { millis, type Timestamp } from '../time.ts';
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
  /** The transaction that gives (or last gave) access. */
  readonly current?: Transaction;
  readonly storeProductId?: string;
  /** When access runs: from..until, `until` null for purchases that never expire. Absent: no access ever. */
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
 * then"). Facts the store reported later about that moment count: a refund is
 * effective from its revocation time, not from when we heard of it. Without `at`,
 * every observation counts: the status as of now, for the read model.
 */
export function purchaseStatusAt(state: PurchaseState, at?: Timestamp): PurchaseStatus {
  const cutoff = at === undefined ? Number.POSITIVE_INFINITY : millis(at);
  const seen = <T>(timeline: Timeline<T>) => timeline.filter((o) => millis(o.observedAt) <= cutoff);

  const transactions = Object.values(state.transactions)
    .map((o) => o.value)
    .filter((t) => millis(t.purchasedAt) <= cutoff);
  const revocationOf = (t: Transaction): Revocation | undefined => {
    const revocation = state.revocations[t.transactionId]?.value;
    return revocation && millis(revocation.revokedAt) <= cutoff ? revocation : undefined;
  };
  // The newest period decides; a refund or revocation of it ends access early.
  const current = latestTransaction(transactions);
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

  // A grace period only extends the period it followed.
  const grace =
    billing.status === 'grace' && current && millis(billingTimeline.at(-1)!.observedAt) >= millis(current.purchasedAt)
      ? billing.gracePeriodEndsAt
      : undefined;

  return {
    kind,
    ...(current && {
      current,
      storeProductId: current.productId,
      periodType: current.periodType,
      ownership: current.ownership,
    }),
    ...(current && accessWindow(current, grace, revocation) && { access: accessWindow(current, grace, revocation)! }),
    willRenew: kind === 'subscription' && autoRenew && !expiration && !revocation && billing.status !== 'on_hold',
    billing: billing.status,
    ...(grace && { gracePeriodEndsAt: grace }),
    ...(billing.status !== 'ok' && {
      billingIssueDetectedAt: firstOfTrailingRun(billingTimeline, (b) => b.status !== 'ok'),
    }),
    ...(!autoRenew && { unsubscribeDetectedAt: firstOfTrailingRun(autoRenewTimeline, (on) => !on) }),
    ...(expiration && { expiration: { reason: expiration.value, observedAt: expiration.observedAt } }),
    ...(revocation && { revocation }),
    ...(pendingChange && { pendingProductChange: pendingChange }),
    ...(seen(state.appliedProductChanges).length > 0 && {
      lastProductChange: seen(state.appliedProductChanges).at(-1)!.value,
    }),
    ...(pause && { pause }),
    ...(ownerAt(seen(state.links)) && { owner: ownerAt(seen(state.links))! }),
    ...(transactions.length > 0 && { firstPurchasedAt: earliest(transactions.map((t) => t.purchasedAt)) }),
    ...(lastObservation(state, cutoff) && { lastObservedAt: lastObservation(state, cutoff)! }),
  };
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

/** From the period's start to its end (or grace end), cut short by a revocation; undefined if empty. */
function accessWindow(
  current: Transaction,
  gracePeriodEndsAt: Timestamp | undefined,
  revocation: Revocation | undefined,
): { from: Timestamp; until: Timestamp | null } | undefined {
  let until: Timestamp | null = current.expiresAt ?? null;
  if (until !== null && gracePeriodEndsAt && millis(gracePeriodEndsAt) > millis(until)) until = gracePeriodEndsAt;
  if (revocation && (until === null || millis(revocation.revokedAt) < millis(until))) until = revocation.revokedAt;
  if (until !== null && millis(until) <= millis(current.purchasedAt)) return undefined;
  return { from: current.purchasedAt, until };
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
