/**
 * The ground truth of a Google Play subscription lifecycle: what happened at Google, as
 * plain dated data. Nothing here knows Subledger (no import from src/); the model
 * (model.ts) reads it to say who had access when, and the fake Google (google.ts)
 * renders it into the documents Subledger receives.
 *
 * Times are milliseconds since the epoch; intervals are half-open [from, until).
 */

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/**
 * The Play subscriptions of the sample catalog (catalog/sample-fitness.json), written
 * again here on purpose: the spec checks that the catalog agrees. Play bills "monthly"
 * by calendar month; 30 days is close enough for access arithmetic, which only ever
 * uses the expiry times the truth records.
 */
export interface PlayProduct {
  readonly id: string;
  readonly basePlanId: string;
  readonly periodMs: number;
  /** A free-trial offer on the base plan, for first-time buyers. */
  readonly trial?: { readonly offerId: string; readonly periodMs: number };
  readonly entitlements: readonly string[];
}
export const PLAY_PRODUCTS: Readonly<Record<string, PlayProduct>> = {
  premium_monthly: {
    id: 'premium_monthly',
    basePlanId: 'monthly',
    periodMs: 30 * DAY,
    trial: { offerId: 'free-week', periodMs: 7 * DAY },
    entitlements: ['premium'],
  },
  premium_yearly: { id: 'premium_yearly', basePlanId: 'yearly', periodMs: 365 * DAY, entitlements: ['premium'] },
  coaching_monthly: {
    id: 'coaching_monthly',
    basePlanId: 'monthly',
    periodMs: 30 * DAY,
    entitlements: ['premium', 'coaching'],
  },
};
export const ENTITLEMENT_IDS = ['premium', 'coaching'] as const;

export interface Lifecycle {
  readonly packageName: string;
  readonly appUserId: string;
  /** Purchase tokens, oldest first; each later one replaced the one before (linkedPurchaseToken). */
  readonly tokens: readonly TokenTruth[];
  /** Everything that happened, sorted by time. */
  readonly happenings: readonly Happening[];
  /** "Now": the lifecycle is known up to here, and nothing else happened before it. */
  readonly end: number;
}

export interface TokenTruth {
  readonly token: string;
  readonly productId: string;
  readonly startTime: number;
  readonly firstOrderId: string;
  /** The first period was the product's free trial. */
  readonly trial: boolean;
  /** The token this one replaced (upgrade, downgrade, crossgrade). */
  readonly linkedPurchaseToken?: string;
  /** The app set BillingFlowParams.setObfuscatedAccountId to the app user id. */
  readonly accountIdInDocument: boolean;
  /** Once replaced, how Google answers about this token (see google.ts). */
  readonly whenReplaced: {
    /** Google still says ACTIVE for a moment after the replacement (both tokens look active). */
    readonly briefly_active: boolean;
    /** The expiryTime Google then shows: cut to the replacement, or the one paid for. */
    readonly expiry: 'cut' | 'kept';
    /** Google also sends SUBSCRIPTION_EXPIRED about this token at the replacement. */
    readonly notified: boolean;
  };
}

/** One thing that happened to one token. Orders are the periods paid for. */
export type Happening =
  | At<'purchased', { orderId: string; expiry: number }>
  | At<'renewed', { orderId: string; periodStart: number; expiry: number; resumed: boolean }>
  /** A renewal charge failed at the period's end: grace period until graceEnd, or account hold at once. */
  | At<'payment_failed', { graceEnd?: number }>
  | At<'grace_ended', Empty>
  /** The payment went through in grace (renewal date unchanged) or on hold (a new period from now). */
  | At<'recovered', { orderId: string; periodStart: number; expiry: number }>
  | At<'hold_ended', Empty>
  | At<'canceled', Empty>
  | At<'restarted', Empty>
  /** A canceled subscription reached its expiry. */
  | At<'lapsed', Empty>
  | At<'pause_scheduled', { resumeAt: number }>
  | At<'paused', { resumeAt: number }>
  /** The charge at the end of a pause failed: account hold. */
  | At<'resume_failed', Empty>
  /** purchases.subscriptionsv2.defer: the order's expiry moved later. */
  | At<'deferred', { orderId: string; expiry: number }>
  | At<'price_change', Empty>
  /** purchases.subscriptionsv2.revoke (refund and revoke), notified as SUBSCRIPTION_REVOKED. */
  | At<'revoked', { orderId: string }>
  /** A refund or chargeback of the current order (voided purchase); Google ends the subscription. */
  | At<'voided', { orderId: string; chargeback: boolean; notified: boolean }>
  /** A new token (`by`) replaced this one at `at` (its linkedPurchaseToken names this one). */
  | At<'replaced', { by: string }>;

type Empty = Record<never, never>;
type At<Kind extends string, Data> = { readonly kind: Kind; readonly at: number; readonly token: string } & {
  readonly [K in keyof Data]: Data[K];
};

export type HappeningKind = Happening['kind'];
export type HappeningOf<K extends HappeningKind> = Extract<Happening, { kind: K }>;

export function happeningsOf(lifecycle: Lifecycle, token: string): Happening[] {
  return lifecycle.happenings.filter((h) => h.token === token);
}

export function ofKind<K extends HappeningKind>(happenings: readonly Happening[], ...kinds: K[]): HappeningOf<K>[] {
  return happenings.filter((h): h is HappeningOf<K> => (kinds as string[]).includes(h.kind));
}

export const iso = (ms: number) => new Date(ms).toISOString();
