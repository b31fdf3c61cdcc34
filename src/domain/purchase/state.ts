import { canonical } from '../canonical.ts';
import { millis, toTimestamp, type Timestamp } from '../time.ts';
import type {
  ExpirationReason,
  LinkSource,
  ProductChangeKind,
  PurchaseEvent,
  RevocationReason,
  Transaction,
} from './events.ts';

/**
 * What Subledger knows about one store purchase.
 *
 * Order and duplicates do not matter, by construction: the state is a set of
 * observations, and `evolve` is a merge (a join) that is commutative, associative
 * and idempotent. Per-transaction facts are registers keyed by transaction id where
 * the newest store observation wins; everything that changes over time is a
 * timeline of observations, sorted by store time. Folding any permutation of the
 * same events, with any duplicates, gives a deep-equal state, and an old
 * notification arriving late can never overwrite what a newer one said: on a
 * timeline it adds a point in the past, in a register it loses to the newer value
 * (the event itself stays in the log). `status.ts` reads the state at a point in time.
 */
export interface PurchaseState {
  readonly transactions: Readonly<Record<string, Observed<Transaction>>>;
  /**
   * When the store first reported each transaction: for a period charged ahead of its
   * start, when it was paid. The earliest observation wins.
   */
  readonly reportedAt: Readonly<Record<string, Timestamp>>;
  /** Per transaction: refunded or revoked, or `null` once a refund was reversed. */
  readonly revocations: Readonly<Record<string, Observed<Revocation | null>>>;
  /** The whole subscription ended: Google's revocation, a replacement by another purchase. */
  readonly subscriptionRevocations: Timeline<Revocation>;
  readonly billing: Timeline<BillingState>;
  readonly autoRenew: Timeline<boolean>;
  readonly productChange: Timeline<PendingProductChange | null>;
  readonly appliedProductChanges: Timeline<AppliedProductChange>;
  readonly expirations: Timeline<ExpirationReason>;
  readonly pause: Timeline<Pause | null>;
  readonly links: Timeline<AppUserLink>;
  /** Claims by app users refused because the purchase is another's: kept for support. */
  readonly refusedClaims: Timeline<RefusedClaim>;
  /** Store messages with no entitlement effect (price increase consent, test, ...), kept for support. */
  readonly notices: Timeline<string>;
}

export interface Observed<T> {
  readonly observedAt: Timestamp;
  readonly value: T;
  /** Inferred from another fact, not said by the store: at the same instant, what the store said wins. */
  readonly inferred?: true;
}
/** Observations sorted by store time, then by their canonical text; no duplicates. */
export type Timeline<T> = readonly Observed<T>[];

export interface Revocation {
  readonly revokedAt: Timestamp;
  readonly reason: RevocationReason;
}
export type BillingState =
  | { readonly status: 'ok' }
  /** Renewal failed; the store keeps access open until the grace period ends. */
  | { readonly status: 'grace'; readonly gracePeriodEndsAt: Timestamp }
  /** Renewal failed and the store is retrying; no access meanwhile. */
  | { readonly status: 'retry' }
  /** Google's account hold: no access until the payment method is fixed. */
  | { readonly status: 'on_hold' };
export interface PendingProductChange {
  readonly toProductId: string;
  readonly change: ProductChangeKind;
}
export interface AppliedProductChange extends PendingProductChange {
  readonly fromProductId?: string;
}
export interface Pause {
  readonly resumesAt?: Timestamp;
}
export interface AppUserLink {
  readonly appUserId: string;
  readonly via: LinkSource;
}
export interface RefusedClaim {
  readonly appUserId: string;
  readonly ownerAppUserId: string;
}

export function initialState(): PurchaseState {
  return {
    transactions: {},
    reportedAt: {},
    revocations: {},
    subscriptionRevocations: [],
    billing: [],
    autoRenew: [],
    productChange: [],
    appliedProductChanges: [],
    expirations: [],
    pause: [],
    links: [],
    refusedClaims: [],
    notices: [],
  };
}

/** Merges one event into the state. Returns the same object when the event adds nothing new. */
export function evolve(state: PurchaseState, event: PurchaseEvent): PurchaseState {
  const at = event.data.observedAt;
  switch (event.type) {
    case 'SubscriptionStarted':
    case 'SubscriptionRenewed': {
      // A period that was paid for also proves that, when it was paid, billing worked,
      // auto-renew was on and the subscription was not paused: inferred, dated at the
      // earlier of its start and the store's report of it (a renewal is charged up to a
      // day ahead). Anything the store said then or later (auto-renew off in the same
      // notification, or after an early charge) stays the word that counts.
      const { transaction } = event.data;
      const paid = transaction.startUnknown ? at : toTimestamp(Math.min(millis(transaction.purchasedAt), millis(at)));
      const withPeriod = withTransaction(state, event.data.transaction, at);
      return inferred(
        inferred(inferred(withPeriod, 'billing', paid, { status: 'ok' }), 'autoRenew', paid, true),
        'pause',
        paid,
        null,
      );
    }
    case 'RenewalExtended':
    case 'OneTimeProductPurchased':
      return withTransaction(state, event.data.transaction, at);
    case 'RenewalFailed':
      return merge(
        state,
        'billing',
        at,
        event.data.gracePeriodEndsAt
          ? { status: 'grace', gracePeriodEndsAt: event.data.gracePeriodEndsAt }
          : { status: 'retry' },
      );
    case 'GracePeriodExpired':
      return merge(state, 'billing', at, { status: 'retry' });
    case 'BillingRecovered':
      return merge(state, 'billing', at, { status: 'ok' });
    case 'SubscriptionPutOnHold':
      return merge(state, 'billing', at, { status: 'on_hold' });
    case 'AutoRenewTurnedOff':
      return merge(state, 'autoRenew', at, false);
    case 'AutoRenewTurnedOn':
      return merge(state, 'autoRenew', at, true);
    case 'ProductChangeScheduled':
      return merge(state, 'productChange', at, { toProductId: event.data.toProductId, change: event.data.change });
    case 'ProductChangeCancelled':
      return merge(state, 'productChange', at, null);
    case 'ProductChangeApplied': {
      const { fromProductId, toProductId, change } = event.data;
      return merge(merge(state, 'productChange', at, null), 'appliedProductChanges', at, {
        ...(fromProductId !== undefined && { fromProductId }),
        toProductId,
        change,
      });
    }
    case 'SubscriptionExpired':
      return merge(state, 'expirations', at, event.data.reason);
    case 'TransactionRefunded':
      return withRevocation(state, event.data.transactionId, at, {
        revokedAt: event.data.refundedAt,
        reason: 'refund',
      });
    case 'TransactionRevoked':
      return withRevocation(state, event.data.transactionId, at, {
        revokedAt: event.data.revokedAt,
        reason: event.data.reason,
      });
    case 'SubscriptionRevoked':
      return merge(state, 'subscriptionRevocations', at, {
        revokedAt: event.data.revokedAt,
        reason: event.data.reason,
      });
    case 'RefundReversed':
      return withRevocation(state, event.data.transactionId, at, null);
    case 'SubscriptionPaused':
      return merge(state, 'pause', at, event.data.resumesAt ? { resumesAt: event.data.resumesAt } : {});
    case 'SubscriptionResumed':
      return merge(state, 'pause', at, null);
    case 'PurchaseLinkedToAppUser':
      return merge(state, 'links', at, { appUserId: event.data.appUserId, via: event.data.via });
    case 'PurchaseClaimRefused':
      return merge(state, 'refusedClaims', at, {
        appUserId: event.data.appUserId,
        ownerAppUserId: event.data.ownerAppUserId,
      });
    case 'StoreNoticeRecorded':
      return merge(state, 'notices', at, event.data.notice);
    default: {
      const unknown: never = event;
      throw new Error(`Unhandled purchase event ${JSON.stringify(unknown)}`);
    }
  }
}

export function foldPurchase(events: Iterable<PurchaseEvent>, from: PurchaseState = initialState()): PurchaseState {
  let state = from;
  for (const event of events) state = evolve(state, event);
  return state;
}

type TimelineField = {
  [K in keyof PurchaseState]: PurchaseState[K] extends Timeline<unknown> ? K : never;
}[keyof PurchaseState];
type TimelineValue<K extends TimelineField> = PurchaseState[K] extends Timeline<infer T> ? T : never;

function merge<K extends TimelineField>(
  state: PurchaseState,
  field: K,
  observedAt: Timestamp,
  value: TimelineValue<K>,
  inferredOnly = false,
): PurchaseState {
  const timeline = state[field] as Timeline<TimelineValue<K>>;
  const added = insertObservation(timeline, { observedAt, value, ...(inferredOnly && { inferred: true as const }) });
  return added === timeline ? state : { ...state, [field]: added };
}

function inferred<K extends TimelineField>(
  state: PurchaseState,
  field: K,
  observedAt: Timestamp,
  value: TimelineValue<K>,
): PurchaseState {
  return merge(state, field, observedAt, value, true);
}

function withTransaction(state: PurchaseState, transaction: Transaction, observedAt: Timestamp): PurchaseState {
  const id = transaction.transactionId;
  const transactions = mergeRegister(state.transactions, id, { observedAt, value: transaction });
  const known = state.reportedAt[id];
  const reportedAt =
    known === undefined || millis(observedAt) < millis(known)
      ? { ...state.reportedAt, [id]: observedAt }
      : state.reportedAt;
  return transactions === state.transactions && reportedAt === state.reportedAt
    ? state
    : { ...state, transactions, reportedAt };
}

function withRevocation(
  state: PurchaseState,
  transactionId: string,
  observedAt: Timestamp,
  revocation: Revocation | null,
): PurchaseState {
  const revocations = mergeRegister(state.revocations, transactionId, { observedAt, value: revocation });
  return revocations === state.revocations ? state : { ...state, revocations };
}

/**
 * Total order on observations: store time, then what was inferred before what the
 * store said (so the store's word is the newer), then canonical text, so ties break
 * the same way everywhere.
 */
export function compareObservations<T>(a: Observed<T>, b: Observed<T>): number {
  const byTime = millis(a.observedAt) - millis(b.observedAt);
  if (byTime !== 0) return byTime;
  const bySource = (b.inferred ? 1 : 0) - (a.inferred ? 1 : 0);
  if (bySource !== 0) return bySource;
  const ca = canonical(a.value);
  const cb = canonical(b.value);
  return ca < cb ? -1 : ca > cb ? 1 : 0;
}

/** Adds an observation at its place in time; the same timeline object when it is already there. */
function insertObservation<T>(timeline: Timeline<T>, observation: Observed<T>): Timeline<T> {
  let low = 0;
  let high = timeline.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const order = compareObservations(timeline[middle]!, observation);
    if (order === 0) return timeline;
    if (order < 0) low = middle + 1;
    else high = middle;
  }
  return [...timeline.slice(0, low), observation, ...timeline.slice(low)];
}

/** Last writer wins, by store time; the same record object when nothing changes. */
function mergeRegister<T>(
  registers: Readonly<Record<string, Observed<T>>>,
  key: string,
  observation: Observed<T>,
): Readonly<Record<string, Observed<T>>> {
  const current = registers[key];
  if (current && compareObservations(current, observation) >= 0) return registers;
  return { ...registers, [key]: observation };
}
