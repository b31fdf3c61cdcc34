import { DAY, type RenewalDoc, type SentNotification, type TransactionDoc } from './lifecycle.ts';

/*
 * Who has access when, by the App Store's documentation, read straight off the
 * documents Apple sent: a second formulation, deliberately unlike Subledger's (which
 * merges store-agnostic facts into timelines). Here a subscription is a set of access
 * intervals, one per signed transaction, plus a grace interval, and an answer at
 * instant t is read from the intervals and from the renewal info Apple had signed by t.
 *
 * "As we know it now about then": every document counts for what it says about its
 * own transaction (a refund's revocationDate is when access ended, whenever Apple told
 * us), but what was only decided at some moment (a renewal charged, auto-renew turned
 * off, a billing failure) counts from the moment Apple signed it.
 */
export interface ModelAnswer {
  readonly active: boolean;
  /** When access ends (or ended): the end of the unbroken run of access through t, else of the last one. */
  readonly expiresAt: number;
  readonly willRenew: boolean;
  readonly storeProductId: string;
  readonly periodType: 'trial' | 'intro' | 'normal';
  readonly billingIssue: boolean;
  readonly owner: string;
}

export function appleAnswerAt(sent: readonly SentNotification[], t: number): ModelAnswer | undefined {
  const signedBy = sent.filter((n) => n.signedDate <= t);
  // The newest document of each transaction, whenever it came: Apple's latest word on it.
  const latest = new Map<string, TransactionDoc>();
  for (const n of sent) {
    const known = latest.get(n.transaction.transactionId);
    if (!known || known.signedDate <= n.transaction.signedDate) latest.set(n.transaction.transactionId, n.transaction);
  }
  // Transactions charged by t: a period Apple had not charged yet is not owed at t.
  const charged = new Set(signedBy.map((n) => n.transaction.transactionId));
  const transactions = [...latest.values()].filter((tx) => charged.has(tx.transactionId) || tx.purchaseDate <= t);
  // The period covering t is the one that began last [tx: purchaseDate, expiresDate].
  const begun = transactions.filter((tx) => tx.purchaseDate <= t).sort((a, b) => a.purchaseDate - b.purchaseDate);
  const current = begun.at(-1);
  if (!current) return undefined;
  const renewal: RenewalDoc | undefined = signedBy.at(-1)?.renewalInfo;

  // Access intervals: each transaction from its purchase to its expiry, cut by a
  // revocation that has happened by t [tx: revocationDate, "the App Store refunded
  // the transaction or revoked it from Family Sharing"; an upgrade revokes the old one].
  const intervals: [number, number][] = transactions
    .filter((tx) => tx === current || tx.purchaseDate > t)
    .map((tx) => [tx.purchaseDate, revokedBy(tx, t) ? Math.min(tx.expiresDate, tx.revocationDate!) : tx.expiresDate]);
  // Grace: when a renewal info signed during this period said Apple was retrying billing
  // with a grace period, the customer kept access from the period's end until the grace
  // period's end [grace; renewal: isInBillingRetryPeriod, gracePeriodExpiresDate].
  const graceEnd = signedBy
    .filter((n) => n.signedDate >= current.purchaseDate && n.renewalInfo.isInBillingRetryPeriod)
    .map((n) => n.renewalInfo.gracePeriodExpiresDate)
    .filter((end) => end !== undefined)
    .at(-1);
  if (graceEnd !== undefined && !revokedBy(current, t)) intervals.push([current.expiresDate, graceEnd]);
  const run = unbrokenRunFrom(current.purchaseDate, intervals);

  return {
    active: run !== undefined && run[0] <= t && t < run[1],
    expiresAt: run ? run[1] : (current.revocationDate ?? current.expiresDate),
    // [renewal] autoRenewStatus 1: "automatic renewal is on"; expirationIntent is set only
    // once the subscription has expired. A revoked period is not one that renews.
    willRenew:
      renewal !== undefined &&
      renewal.autoRenewStatus === 1 &&
      renewal.expirationIntent === undefined &&
      !revokedBy(current, t),
    storeProductId: current.productId,
    // [tx] offerType 1 is an introductory offer; offerDiscountType FREE_TRIAL makes it a trial.
    periodType: current.offerDiscountType === 'FREE_TRIAL' ? 'trial' : current.offerType === 1 ? 'intro' : 'normal',
    // [renewal] isInBillingRetryPeriod: Apple is retrying; expirationIntent 2: it expired
    // because billing failed. Either way the customer has a payment problem to fix.
    billingIssue: renewal?.isInBillingRetryPeriod === true || renewal?.expirationIntent === 2,
    owner: current.appAccountToken,
  };
}

function revokedBy(tx: TransactionDoc, t: number): boolean {
  return tx.revocationDate !== undefined && tx.revocationDate <= t;
}

/** The stretch of continuous access starting at `from`: joined intervals that touch or overlap. */
function unbrokenRunFrom(from: number, intervals: readonly [number, number][]): [number, number] | undefined {
  const usable = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let run: [number, number] | undefined;
  for (const [a, b] of usable) {
    if (a < from) continue;
    if (!run) {
      if (a !== from) return undefined;
      run = [a, b];
    } else if (a <= run[1]) run[1] = Math.max(run[1], b);
    else break;
  }
  return run;
}

/** The instants worth asking about: each document's time, every boundary, just before and after. */
export function boundaries(sent: readonly SentNotification[], end: number): number[] {
  const times = new Set<number>();
  for (const n of sent) {
    const tx = n.transaction;
    for (const at of [
      n.signedDate,
      tx.purchaseDate,
      tx.expiresDate,
      tx.revocationDate,
      n.renewalInfo.gracePeriodExpiresDate,
    ]) {
      if (at === undefined) continue;
      times
        .add(at - 1)
        .add(at)
        .add(at + 1);
    }
  }
  times.add(end + 400 * DAY);
  return [...times].filter((t) => t >= sent[0]!.transaction.purchaseDate).sort((a, b) => a - b);
}
