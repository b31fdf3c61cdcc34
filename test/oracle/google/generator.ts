import fc from 'fast-check';
import { DAY, HOUR, MINUTE, PLAY_PRODUCTS, SECOND, type Happening, type Lifecycle, type TokenTruth } from './truth.ts';

/**
 * Realistic Play subscription lifecycles with Google's timing ([LC] in model.ts): a
 * purchase, then moves drawn from what can happen in the current state. Every choice is
 * a small number, so fast-check shrinks a failing lifecycle to its fewest, simplest moves
 * (move 0 is the plainest next step: renew, lapse, pause, resume, recover).
 */

type State = 'active' | 'canceled' | 'pause_scheduled' | 'paused' | 'grace' | 'hold' | 'over';

interface Cursor {
  readonly state: State;
  /** Time of the latest happening: the next one comes after it. */
  readonly now: number;
  readonly token: TokenTruth;
  readonly orders: number;
  /** Expiry of the current order (active, canceled, pause scheduled); when the charge failed (grace, hold). */
  readonly periodEnd: number;
  /** The next boundary in grace (its end), on hold (hold end), paused (auto-resume). */
  readonly until?: number;
}

/** One move: which (modulo what the state allows) and two per-mille knobs (when, how long, ...). */
const stepArbitrary = fc.record({
  move: fc.nat({ max: 99 }),
  a: fc.integer({ min: 0, max: 999 }),
  b: fc.integer({ min: 0, max: 999 }),
});
type Step = typeof stepArbitrary extends fc.Arbitrary<infer S> ? S : never;

const replacedArbitrary = fc.record({
  briefly_active: fc.boolean(),
  expiry: fc.constantFrom('cut' as const, 'kept' as const),
  notified: fc.boolean(),
});

export const lifecycleArbitrary: fc.Arbitrary<Lifecycle> = fc
  .record({
    // Anywhere in 2026, to the millisecond.
    offset: fc.integer({ min: 0, max: 365 * DAY }),
    product: fc.constantFrom(...Object.keys(PLAY_PRODUCTS)),
    trial: fc.boolean(),
    accountIds: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    replaced: fc.array(replacedArbitrary, { minLength: 3, maxLength: 3 }),
    steps: fc.array(stepArbitrary, { maxLength: 12 }),
    end: fc.integer({ min: 0, max: 999 }),
  })
  .map(build);

interface Options {
  readonly offset: number;
  readonly product: string;
  readonly trial: boolean;
  /** Per token: whether the app set the obfuscated account id. */
  readonly accountIds: boolean[];
  /** Per token: how Google answers about it once a newer token replaced it. */
  readonly replaced: TokenTruth['whenReplaced'][];
  readonly steps: Step[];
  /** Where "now" falls, per mille, between the last happening and the next boundary. */
  readonly end: number;
}

function build(options: Options): Lifecycle {
  const start = Date.parse('2026-01-01T00:00:00.000Z') + options.offset;
  const tokens: TokenTruth[] = [];
  const happenings: Happening[] = [];
  const newToken = (productId: string, at: number, trial: boolean, linked?: string): TokenTruth => {
    const i = tokens.length;
    const token: TokenTruth = {
      token: tokenName(i, options.offset),
      productId,
      startTime: at,
      firstOrderId: `GPA.33${i}1-${String(options.offset % 10_000).padStart(4, '0')}-9981-${10_000 + i}`,
      trial,
      ...(linked && { linkedPurchaseToken: linked }),
      accountIdInDocument: options.accountIds[i]!,
      whenReplaced: options.replaced[i]!,
    };
    tokens.push(token);
    const product = PLAY_PRODUCTS[productId]!;
    const firstPeriod = trial && product.trial ? product.trial.periodMs : product.periodMs;
    happenings.push({
      kind: 'purchased',
      at,
      token: token.token,
      orderId: token.firstOrderId,
      expiry: at + firstPeriod,
    });
    return token;
  };
  const first = newToken(options.product, start, options.trial && PLAY_PRODUCTS[options.product]!.trial !== undefined);
  const firstOrder = happenings[0] as Extract<Happening, { kind: 'purchased' }>;
  let cursor: Cursor = { state: 'active', now: start, token: first, orders: 0, periodEnd: firstOrder.expiry };

  for (const step of options.steps) {
    if (cursor.state === 'over') break;
    const moves = MOVES[cursor.state].filter((m) => m.possible(cursor, tokens.length));
    const move = moves[step.move % moves.length]!;
    cursor = move.apply(cursor, step, {
      happenings,
      newToken,
      nextToken: () => tokenName(tokens.length, options.offset),
    });
  }
  return {
    packageName: 'com.example.pulse',
    appUserId: 'app-user-7',
    tokens,
    // Already in time order; a replacement and the new purchase share their instant.
    happenings,
    end: inside(cursor.now, nextBoundary(cursor), options.end),
  };
}

const tokenName = (i: number, offset: number) => `play-token-${i}-${offset.toString(36)}`;

/** When the state would change by itself: "now" (the end) comes before it. */
function nextBoundary(c: Cursor): number {
  switch (c.state) {
    case 'over':
      return c.now + 20 * DAY;
    case 'grace':
    case 'hold':
    case 'paused':
      return c.until!;
    default:
      return c.periodEnd;
  }
}

/** An instant strictly between `from` and `to`, `perMille` of the way. */
function inside(from: number, to: number, perMille: number): number {
  return from + 1 + Math.floor(((to - from - 2) * perMille) / 1000);
}

/** Room for something to happen mid-period: after the latest happening, before the renewal charge. */
const midPeriod = (c: Cursor, perMille: number) => inside(c.now + MINUTE, c.periodEnd - 7 * HOUR, perMille);
const hasRoom = (c: Cursor) => c.periodEnd - 7 * HOUR - (c.now + MINUTE) > 2 * MINUTE;

interface Tools {
  readonly happenings: Happening[];
  readonly newToken: (productId: string, at: number, trial: boolean, linked?: string) => TokenTruth;
  readonly nextToken: () => string;
}
interface Move {
  readonly possible: (c: Cursor, tokens: number) => boolean;
  readonly apply: (c: Cursor, step: Step, tools: Tools) => Cursor;
}
const always = () => true;
const midPeriodOnly = (c: Cursor) => hasRoom(c);

const orderId = (c: Cursor) => `${c.token.firstOrderId}..${c.orders}`;
const periodOf = (c: Cursor) => PLAY_PRODUCTS[c.token.productId]!.periodMs;

/** A new order for [periodStart, periodStart + period), charged at `at`. */
function paid(
  c: Cursor,
  tools: Tools,
  kind: 'renewed' | 'recovered',
  at: number,
  periodStart: number,
  resumed = false,
) {
  const expiry = periodStart + periodOf(c);
  const base = { at, token: c.token.token, orderId: orderId(c), periodStart, expiry };
  tools.happenings.push(kind === 'renewed' ? { kind, ...base, resumed } : { kind, ...base });
  const next: Cursor = {
    state: 'active',
    now: Math.max(at, periodStart),
    token: c.token,
    orders: c.orders + 1,
    periodEnd: expiry,
  };
  return next;
}

function simple(kind: 'canceled' | 'restarted' | 'price_change', next: State): Move {
  return {
    possible: midPeriodOnly,
    apply: (c, step, tools) => {
      const at = midPeriod(c, step.a);
      tools.happenings.push({ kind, at, token: c.token.token });
      return { ...c, state: next, now: at };
    },
  };
}

/** Moves open to a subscription that is paid up (active or canceled). */
const PAID_UP_MOVES: Move[] = [
  {
    // purchases.subscriptionsv2.defer: the renewal (expiry) moves 1 to 30 days later.
    possible: midPeriodOnly,
    apply: (c, step, tools) => {
      const at = midPeriod(c, step.a);
      const expiry = c.periodEnd + (1 + Math.floor(step.b / 34)) * DAY;
      tools.happenings.push({ kind: 'deferred', at, token: c.token.token, orderId: currentOrder(c), expiry });
      return { ...c, now: at, periodEnd: expiry };
    },
  },
  {
    possible: midPeriodOnly,
    apply: (c, step, tools) => {
      const at = midPeriod(c, step.a);
      tools.happenings.push({ kind: 'revoked', at, token: c.token.token, orderId: currentOrder(c) });
      return { ...c, state: 'over', now: at };
    },
  },
  {
    possible: midPeriodOnly,
    apply: (c, step, tools) => {
      const at = midPeriod(c, step.a);
      const [chargeback, notified] = [step.b % 2 === 1, step.b % 5 !== 0];
      tools.happenings.push({
        kind: 'voided',
        at,
        token: c.token.token,
        orderId: currentOrder(c),
        chargeback,
        notified,
      });
      return { ...c, state: 'over', now: at };
    },
  },
  {
    // Upgrade, downgrade or crossgrade, charged now (immediate replacement modes).
    possible: (c, tokens) => hasRoom(c) && tokens < 3,
    apply: (c, step, tools) => {
      const at = midPeriod(c, step.a);
      const others = Object.keys(PLAY_PRODUCTS).filter((p) => p !== c.token.productId);
      const productId = others[step.b % others.length]!;
      tools.happenings.push({ kind: 'replaced', at, token: c.token.token, by: tools.nextToken() });
      const token = tools.newToken(productId, at, false, c.token.token);
      const expiry = at + PLAY_PRODUCTS[productId]!.periodMs;
      return { state: 'active', now: at, token, orders: 0, periodEnd: expiry };
    },
  },
];

const currentOrder = (c: Cursor) =>
  c.orders === 0 ? c.token.firstOrderId : `${c.token.firstOrderId}..${c.orders - 1}`;

const GRACE_DAYS = [3, 7, 14];
const HOLD = 30 * DAY;
const PAUSE_DAYS = [7, 14, 30, 90];

const MOVES: Record<State, Move[]> = {
  active: [
    {
      // SUBSCRIPTION_RENEWED comes when Google charged, up to a few hours before the expiry.
      possible: always,
      apply: (c, step, tools) =>
        paid(
          c,
          tools,
          'renewed',
          Math.max(c.now + SECOND, c.periodEnd - Math.floor((step.a * 6 * HOUR) / 1000)),
          c.periodEnd,
        ),
    },
    {
      possible: always,
      apply: (c, step, tools) => {
        const graceEnd = c.periodEnd + GRACE_DAYS[step.b % GRACE_DAYS.length]! * DAY;
        tools.happenings.push({ kind: 'payment_failed', at: c.periodEnd, token: c.token.token, graceEnd });
        return { ...c, state: 'grace', now: c.periodEnd, until: graceEnd };
      },
    },
    {
      // No grace period configured: straight to account hold.
      possible: always,
      apply: (c, _, tools) => {
        tools.happenings.push({ kind: 'payment_failed', at: c.periodEnd, token: c.token.token });
        return { ...c, state: 'hold', now: c.periodEnd, until: c.periodEnd + HOLD };
      },
    },
    simple('canceled', 'canceled'),
    {
      possible: midPeriodOnly,
      apply: (c, step, tools) => {
        const at = midPeriod(c, step.a);
        const resumeAt = c.periodEnd + PAUSE_DAYS[step.b % PAUSE_DAYS.length]! * DAY;
        tools.happenings.push({ kind: 'pause_scheduled', at, token: c.token.token, resumeAt });
        return { ...c, state: 'pause_scheduled', now: at, until: resumeAt };
      },
    },
    simple('price_change', 'active'),
    ...PAID_UP_MOVES,
  ],
  canceled: [
    {
      possible: always,
      apply: (c, _, tools) => {
        tools.happenings.push({ kind: 'lapsed', at: c.periodEnd, token: c.token.token });
        return { ...c, state: 'over', now: c.periodEnd };
      },
    },
    simple('restarted', 'active'),
    ...PAID_UP_MOVES,
  ],
  pause_scheduled: [
    {
      possible: always,
      apply: (c, _, tools) => {
        tools.happenings.push({ kind: 'paused', at: c.periodEnd, token: c.token.token, resumeAt: c.until! });
        return { ...c, state: 'paused', now: c.periodEnd };
      },
    },
  ],
  paused: [
    { possible: always, apply: (c, _, tools) => paid(c, tools, 'renewed', c.until!, c.until!, true) },
    {
      // The user resumes early.
      possible: always,
      apply: (c, step, tools) => {
        const at = inside(c.now, c.until!, step.a);
        return paid(c, tools, 'renewed', at, at, true);
      },
    },
    {
      possible: always,
      apply: (c, _, tools) => {
        tools.happenings.push({ kind: 'resume_failed', at: c.until!, token: c.token.token });
        return { ...c, state: 'hold', now: c.until!, until: c.until! + HOLD };
      },
    },
  ],
  grace: [
    // Recovered in grace: the renewal date does not move.
    {
      possible: always,
      apply: (c, step, tools) => paid(c, tools, 'recovered', inside(c.now, c.until!, step.a), c.periodEnd),
    },
    {
      possible: always,
      apply: (c, _, tools) => {
        tools.happenings.push({ kind: 'grace_ended', at: c.until!, token: c.token.token });
        return { ...c, state: 'hold', now: c.until!, until: c.until! + HOLD };
      },
    },
  ],
  hold: [
    {
      // Recovered on hold: a new period from the recovery.
      possible: always,
      apply: (c, step, tools) => {
        const at = inside(c.now, c.until!, step.a);
        return paid(c, tools, 'recovered', at, at);
      },
    },
    {
      possible: always,
      apply: (c, _, tools) => {
        tools.happenings.push({ kind: 'hold_ended', at: c.until!, token: c.token.token });
        return { ...c, state: 'over', now: c.until! };
      },
    },
  ],
  over: [],
};
