import type { Scenario } from './chaos.ts';
import { BRIEFLY_ACTIVE_MS } from './google.ts';
import { knowledgeOf, type Knowledge } from './knowledge.ts';
import { answerAt, type ModelAnswer } from './model.ts';
import { DAY, ENTITLEMENT_IDS, iso, ofKind, type Lifecycle } from './truth.ts';

/** Subledger's answer in the model's terms (filled in by drive-subledger.ts). */
export type Answer = ModelAnswer;
export const FIELDS = ['active', 'expiresAt', 'willRenew', 'storeProductId', 'billingIssue'] as const;
export type Field = (typeof FIELDS)[number];

export interface Mismatch {
  readonly at: string;
  readonly entitlement: string;
  readonly field: Field | 'presence';
  readonly model: unknown;
  readonly subledger: unknown;
  /** The purchase token the model's answer comes from. */
  readonly token?: string;
}

/** What a comparison may be excused for, by name: either unknowable, or a known discrepancy. */
export interface Excuse {
  readonly name: string;
  readonly fields: readonly Field[];
  readonly applies: (context: ExcuseContext) => boolean;
}
export interface ExcuseContext {
  readonly field: Field;
  readonly scenario: Scenario;
  readonly knowledge: ReadonlyMap<string, Knowledge>;
  readonly t: number;
  readonly model: ModelAnswer;
  readonly subledger: Answer;
}

/**
 * The instants to compare at: before, at and just after every boundary of the truth
 * (purchases, each period's start and end, grace end, hold, pause, revocation, the end
 * of a brief "still active"), halfway between boundaries, a day before the purchase, and now.
 */
export function instantsOf(lifecycle: Lifecycle): number[] {
  const boundaries = new Set<number>([lifecycle.end]);
  for (const h of lifecycle.happenings) {
    boundaries.add(h.at);
    if ('expiry' in h) boundaries.add(h.expiry);
    if ('periodStart' in h) boundaries.add(h.periodStart);
    if ('graceEnd' in h && h.graceEnd !== undefined) boundaries.add(h.graceEnd);
    if ('resumeAt' in h) boundaries.add(h.resumeAt);
  }
  for (const r of ofKind(lifecycle.happenings, 'replaced')) boundaries.add(r.at + BRIEFLY_ACTIVE_MS);
  const sorted = [...boundaries].sort((a, b) => a - b);
  const instants = new Set<number>([lifecycle.tokens[0]!.startTime - DAY]);
  sorted.forEach((b, i) => {
    for (const t of [b - 1, b, b + 1]) instants.add(t);
    const next = sorted[i + 1];
    if (next !== undefined) instants.add(Math.floor((b + next) / 2));
  });
  return [...instants].filter((t) => t <= lifecycle.end).sort((a, b) => a - b);
}

export interface Comparison {
  readonly mismatches: Mismatch[];
  /** How many field comparisons each excuse waived. */
  readonly excused: Map<string, number>;
  readonly compared: number;
}

/** The model's and Subledger's answers at every instant, field by field. */
export function compareScenario(
  scenario: Scenario,
  subledgerAt: (t: number) => ReadonlyMap<string, Answer>,
  excuses: readonly Excuse[],
): Comparison {
  const knowledge = knowledgeOf(scenario);
  const mismatches: Mismatch[] = [];
  const excused = new Map<string, number>();
  let compared = 0;
  for (const t of instantsOf(scenario.lifecycle)) {
    const answers = subledgerAt(t);
    for (const entitlement of ENTITLEMENT_IDS) {
      const model = answerAt(scenario.lifecycle, entitlement, t);
      const subledger = answers.get(entitlement);
      const at = iso(t);
      compared++;
      if (!model || !subledger) {
        if (model || subledger) mismatches.push({ at, entitlement, field: 'presence', model, subledger });
        continue;
      }
      for (const field of FIELDS) {
        compared++;
        if (model[field] === subledger[field]) continue;
        const excuse = excuses.find(
          (e) => e.fields.includes(field) && e.applies({ field, scenario, knowledge, t, model, subledger }),
        );
        if (excuse) excused.set(excuse.name, (excused.get(excuse.name) ?? 0) + 1);
        else {
          mismatches.push({
            at,
            entitlement,
            field,
            model: model[field],
            subledger: subledger[field],
            token: model.token,
          });
        }
      }
    }
  }
  return { mismatches, excused, compared };
}
