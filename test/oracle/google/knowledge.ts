import type { Scenario } from './chaos.ts';
import { answerChangeTimes, tokenOf } from './google.ts';
import { union, type Interval } from './model.ts';

/**
 * What Subledger could know about a token's state over time, given what reached it.
 * Subledger dates what an answer of Google says at the notification's eventTimeMillis,
 * or, with no notification, when it asked (README, "Process"; translate-subscription.ts).
 *
 * - blind: from a change at Google until the first answer dated at or after it. A lost
 *   notification, found again by a later question, leaves such a window: nobody can
 *   know, in it, what changed (the documents do not date most changes).
 * - misdated: an answer asked at `p` and dated at an earlier event time `d`, when Google's
 *   state changed between the two, says at `d` what was only true later, over [d, p).
 */
export interface Knowledge {
  readonly blind: readonly Interval[];
  readonly misdated: readonly Interval[];
  /** Changes whose resulting state no answer ever showed (every answer was asked before it or after the next). */
  readonly unseen: readonly number[];
}

interface Observation {
  readonly token: string;
  readonly datedAt: number;
  readonly askedAt: number;
}

/** Every answer about a subscription token Subledger gets, with the date it gives it. */
function observationsOf({ lifecycle, deliveries }: Scenario): Observation[] {
  return deliveries.flatMap((d): Observation[] => {
    const about =
      d.kind === 'ask'
        ? { token: d.token, datedAt: d.at }
        : d.kind === 'notification' && d.notification.document.subscriptionNotification
          ? { token: d.notification.token, datedAt: d.notification.eventTime }
          : undefined;
    if (!about) return [];
    const own = { ...about, askedAt: d.at };
    // Recording a replacing token, Subledger also asks about the one it replaced, dated the same.
    const replaced = tokenOf(lifecycle, about.token).linkedPurchaseToken;
    return replaced ? [own, { ...own, token: replaced }] : [own];
  });
}

export function knowledgeOf(scenario: Scenario): ReadonlyMap<string, Knowledge> {
  const observations = observationsOf(scenario);
  return new Map(
    scenario.lifecycle.tokens.map(({ token }) => {
      const changes = answerChangeTimes(scenario.lifecycle, token);
      const mine = observations.filter((o) => o.token === token);
      const blind = changes.map((change) => ({
        from: change,
        until: Math.min(Infinity, ...mine.filter((o) => o.datedAt >= change).map((o) => o.datedAt)),
      }));
      const misdated = mine
        .filter((o) => changes.some((change) => change > o.datedAt && change <= o.askedAt))
        .map((o) => ({ from: o.datedAt, until: o.askedAt }));
      const sorted = [...changes].sort((a, b) => a - b);
      const unseen = sorted.filter((change, i) => {
        const next = sorted.find((c, j) => j > i && c > change) ?? Infinity;
        return !mine.some((o) => o.datedAt >= change && o.askedAt < next);
      });
      return [token, { blind: union(blind), misdated: union(misdated), unseen }];
    }),
  );
}

export const within = (intervals: readonly Interval[], t: number) => intervals.some((i) => i.from <= t && t < i.until);
