import { millis, toTimestamp, type Timestamp } from '../time.ts';
import type { Transaction } from './events.ts';
import type { PurchaseState } from './state.ts';

/*
 * When a period began, where the store does not say (Google gives only the
 * subscription's start): from when the store first reported the period, and from what
 * happened around it.
 */

/** When the store first reported a transaction. */
export function reportedAtOf(state: PurchaseState, transactionId: string): Timestamp {
  return state.reportedAt[transactionId]!;
}

const dated = new WeakMap<PurchaseState, readonly Transaction[]>();

/**
 * Every transaction of the purchase, each with the start of its period. It depends on
 * the state alone, not on the moment asked about, so it is worked out once per state:
 * a customer's status is computed on every read, from the same cached state objects.
 */
export function transactionsWithKnownStarts(state: PurchaseState): readonly Transaction[] {
  let transactions = dated.get(state);
  if (!transactions) {
    transactions = Object.values(state.transactions).map((o) => withKnownStart(state, o.value));
    dated.set(state, transactions);
  }
  return transactions;
}

/**
 * A period whose start the store did not say. A renewal on time began when the period
 * it follows ended (later than its report, when charged ahead); one that followed a
 * billing failure or a pause (a recovery, a resumption) began when the store first
 * reported it, not back in the gap, and ends the grace of the period before it.
 */
function withKnownStart(state: PurchaseState, transaction: Transaction): Transaction {
  if (!transaction.startUnknown) return transaction;
  const { startUnknown: _, ...known } = transaction;
  const reported = millis(reportedAtOf(state, transaction.transactionId));
  const followed = Object.values(state.transactions)
    .map((o) => o.value)
    .filter((t) => t.transactionId !== transaction.transactionId && t.expiresAt !== undefined)
    .filter((t) => millis(reportedAtOf(state, t.transactionId)) < reported)
    .sort((a, b) => millis(a.expiresAt!) - millis(b.expiresAt!))
    .at(-1);
  const since = followed ? millis(reportedAtOf(state, followed.transactionId)) : Number.NEGATIVE_INFINITY;
  const between = (at: Timestamp) => millis(at) >= since && millis(at) <= reported;
  const recovered =
    state.billing.some((o) => between(o.observedAt) && o.value.status !== 'ok') ||
    state.pause.some((o) => between(o.observedAt) && o.value !== null);
  const start = recovered || !followed ? reported : Math.max(reported, millis(followed.expiresAt!));
  return start > millis(transaction.purchasedAt) ? { ...known, purchasedAt: toTimestamp(start) } : known;
}
