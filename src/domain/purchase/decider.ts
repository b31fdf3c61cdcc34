import { millis, isTimestamp, type Timestamp } from '../time.ts';
import type { LinkSource, PurchaseEvent, Transaction } from './events.ts';
import { evolve, initialState, type PurchaseState } from './state.ts';
import { purchaseStatusAt } from './status.ts';

/**
 * The purchase Decider (Emmett's shape): `decide(command, state)` returns the
 * events a command adds, `evolve` merges an event into the state.
 */
export type PurchaseCommand =
  /** Facts a store reported, already translated by src/ingest. */
  | { readonly type: 'RecordStoreFacts'; readonly data: { readonly facts: readonly PurchaseEvent[] } }
  /** An app user (or support staff) claims this purchase. */
  | {
      readonly type: 'LinkToAppUser';
      readonly data: { readonly appUserId: string; readonly via: LinkSource; readonly at: Timestamp };
    };

export class PurchaseRuleViolation extends Error {
  constructor(
    readonly code: 'invalid_fact' | 'purchase_belongs_to_another_user',
    message: string,
  ) {
    super(message);
    this.name = 'PurchaseRuleViolation';
  }
}

export function decide(command: PurchaseCommand, state: PurchaseState): PurchaseEvent[] {
  switch (command.type) {
    case 'RecordStoreFacts': {
      command.data.facts.forEach(assertWellFormed);
      return onlyNews(command.data.facts, state);
    }
    case 'LinkToAppUser': {
      const { appUserId, via, at } = command.data;
      if (!appUserId.trim()) throw new PurchaseRuleViolation('invalid_fact', 'The app user id is empty');
      const owner = purchaseStatusAt(state).owner;
      if (via === 'app_submission' && owner && owner.appUserId !== appUserId) {
        // Stops one customer's receipt from unlocking another account.
        throw new PurchaseRuleViolation(
          'purchase_belongs_to_another_user',
          'This purchase already belongs to another app user; support staff can transfer it',
        );
      }
      return onlyNews([{ type: 'PurchaseLinkedToAppUser', data: { appUserId, via, observedAt: at } }], state);
    }
  }
}

export const purchaseDecider = { decide, evolve, initialState };

/** Leaves out facts the state already holds (and repeats within the batch): nothing recorded twice. */
function onlyNews(facts: readonly PurchaseEvent[], state: PurchaseState): PurchaseEvent[] {
  const news: PurchaseEvent[] = [];
  let known = state;
  for (const fact of facts) {
    const next = evolve(known, fact);
    if (next !== known) news.push(fact);
    known = next;
  }
  return news;
}

function assertWellFormed(fact: PurchaseEvent): void {
  const problem = problemWith(fact);
  if (problem) throw new PurchaseRuleViolation('invalid_fact', `${fact.type}: ${problem}`);
}

function problemWith(fact: PurchaseEvent): string | undefined {
  if (!isTimestamp(fact.data.observedAt)) return 'observedAt is not a timestamp';
  if ('transaction' in fact.data) return problemWithTransaction(fact.data.transaction);
  if (fact.type === 'PurchaseLinkedToAppUser' && fact.data.via !== 'app_account_token') {
    return 'a store links purchases to app users only through the app account token';
  }
  return undefined;
}

function problemWithTransaction(t: Transaction): string | undefined {
  if (!t.transactionId) return 'the transaction has no id';
  if (!t.productId) return 'the transaction has no product id';
  if (!isTimestamp(t.purchasedAt)) return 'purchasedAt is not a timestamp';
  if (t.expiresAt !== undefined) {
    if (!isTimestamp(t.expiresAt)) return 'expiresAt is not a timestamp';
    if (millis(t.expiresAt) <= millis(t.purchasedAt)) return 'the transaction expires before it starts';
  }
  return undefined;
}
