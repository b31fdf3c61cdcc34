import fc from 'fast-check';
import { lifecycleArbitrary } from './generator.ts';
import { notificationsOf, type SentNotification } from './google.ts';
import { story } from './story.ts';
import { DAY, HOUR, MINUTE, ofKind, SECOND, type Lifecycle } from './truth.ts';

/**
 * What reaches Subledger, and when. Pub/Sub delivers at least once and in no particular
 * order, retries with backoff when the endpoint fails, and an outage can hold messages
 * for days; some notifications never come (Google does not promise every one), and are
 * found again when Subledger asks later (a reconciliation, an app's submission, the
 * voided purchases poll). Every question Subledger asks Google is answered as of the
 * moment it is asked (google.ts), never as of the event.
 */
export type Delivery =
  | { readonly kind: 'notification'; readonly at: number; readonly notification: SentNotification }
  /** purchases.subscriptionsv2.get with no notification: an app's submission or a reconciliation. */
  | { readonly kind: 'ask'; readonly at: number; readonly token: string; readonly why: AskReason }
  /** voidedpurchases.list: every voiding up to then. */
  | { readonly kind: 'voided_poll'; readonly at: number };
export type AskReason = 'app_submission' | 'reconciliation' | 'lost_notification';

export interface Scenario {
  readonly lifecycle: Lifecycle;
  readonly deliveries: readonly Delivery[];
}

/** Mostly seconds; sometimes retries with backoff (minutes to hours); now and then an outage (days). */
const delayArbitrary = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 30 * SECOND }) },
  { weight: 2, arbitrary: fc.integer({ min: 30 * SECOND, max: 6 * HOUR }) },
  { weight: 1, arbitrary: fc.integer({ min: 6 * HOUR, max: 3 * DAY }) },
);
const fateArbitrary = fc.record({
  /** One in eight is lost. */
  lost: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  /** The first delivery, then duplicates. */
  delays: fc.array(delayArbitrary, { minLength: 1, maxLength: 3 }),
  /** For a lost one: when Subledger asks anyway. */
  foundAfter: delayArbitrary,
});

export const scenarioArbitrary: fc.Arbitrary<Scenario> = lifecycleArbitrary.chain((lifecycle) => {
  const sent = notificationsOf(lifecycle);
  const tokens = lifecycle.tokens.length;
  return fc
    .record({
      fates: fc.array(fateArbitrary, { minLength: sent.length, maxLength: sent.length }),
      submissions: fc.array(fc.option(fc.integer({ min: 0, max: 2 * MINUTE }), { nil: undefined }), {
        minLength: tokens,
        maxLength: tokens,
      }),
      polls: fc.array(fc.integer({ min: 0, max: 999 }), { maxLength: 2 }),
      pollDelay: delayArbitrary,
      reconciliations: fc.array(fc.record({ token: fc.nat(), when: fc.integer({ min: 0, max: 999 }) }), {
        maxLength: 2,
      }),
    })
    .map((chaos) => told({ lifecycle, deliveries: deliveriesOf(lifecycle, sent, chaos) }));
});

/** fast-check prints a counterexample as its story rather than as a tree of numbers. */
export function told(scenario: Scenario): Scenario {
  return Object.assign(scenario, { [fc.toStringMethod]: () => `\n${story(scenario)}` });
}

interface Chaos {
  readonly fates: { lost: boolean; delays: number[]; foundAfter: number }[];
  readonly submissions: (number | undefined)[];
  readonly polls: number[];
  /** Google does not notify every refund: the periodic voided purchases poll finds it after this. */
  readonly pollDelay: number;
  readonly reconciliations: { token: number; when: number }[];
}

function deliveriesOf(lifecycle: Lifecycle, sent: readonly SentNotification[], chaos: Chaos): Delivery[] {
  // Nothing is processed after "now": what would arrive later is not known yet.
  const by = (at: number) => Math.min(at, lifecycle.end);
  const first = lifecycle.tokens[0]!.startTime;
  const deliveries: Delivery[] = [];
  sent.forEach((notification, i) => {
    const fate = chaos.fates[i]!;
    if (!fate.lost) {
      for (const delay of fate.delays) {
        deliveries.push({ kind: 'notification', at: by(notification.eventTime + delay), notification });
      }
    } else {
      const at = by(notification.eventTime + fate.foundAfter);
      deliveries.push(
        notification.document.voidedPurchaseNotification
          ? { kind: 'voided_poll', at }
          : { kind: 'ask', at, token: notification.token, why: 'lost_notification' },
      );
    }
  });
  lifecycle.tokens.forEach((token, i) => {
    const after = chaos.submissions[i];
    if (after !== undefined) {
      deliveries.push({ kind: 'ask', at: by(token.startTime + after), token: token.token, why: 'app_submission' });
    }
  });
  for (const voided of ofKind(lifecycle.happenings, 'voided').filter((v) => !v.notified)) {
    deliveries.push({ kind: 'voided_poll', at: by(voided.at + chaos.pollDelay) });
  }
  for (const perMille of chaos.polls) {
    deliveries.push({ kind: 'voided_poll', at: first + Math.floor(((lifecycle.end - first) * perMille) / 1000) });
  }
  for (const { token, when } of chaos.reconciliations) {
    const truth = lifecycle.tokens[token % lifecycle.tokens.length]!;
    const at = truth.startTime + Math.floor(((lifecycle.end - truth.startTime) * when) / 1000);
    deliveries.push({ kind: 'ask', at, token: truth.token, why: 'reconciliation' });
  }
  // Processed in arrival order; a stable sort keeps simultaneous arrivals as generated.
  return deliveries.sort((a, b) => a.at - b.at);
}
