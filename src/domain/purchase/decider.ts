import { canonical } from '../canonical.ts';
import { isCanonicalTimestamp, millis, type Timestamp } from '../time.ts';
import type { LinkSource, PurchaseEvent, Transaction } from './events.ts';
import { evolve, initialState, type PurchaseState } from './state.ts';
import { ownerOf } from './status.ts';
import { Refusal } from '../refusal.ts';
import { decideGrant, type GrantCommand } from './promotional-grant.ts';

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
      readonly data: {
        readonly appUserId: string;
        readonly via: Exclude<LinkSource, 'app_account_token' | 'restore_transfer'>;
        readonly at: Timestamp;
        /**
         * For an app's claim of a purchase another user owns (a restore on another
         * account): move it to the claimant, or refuse (the default) and keep it.
         */
        readonly whenOwnedByAnother?: RestorePolicy;
      };
    }
  /** Support staff give or end a promotional grant (promotional-grant.ts). */
  | GrantCommand;

export type RestorePolicy = 'transfer' | 'keep';

export class PurchaseRuleViolation extends Refusal<'invalid_fact'> {
  constructor(message: string) {
    super('invalid', 'invalid_fact', message);
  }
}

export function decide(command: PurchaseCommand, state: PurchaseState): PurchaseEvent[] {
  switch (command.type) {
    case 'RecordStoreFacts': {
      for (const fact of command.data.facts) {
        assertWellFormed(fact);
        if (fact.type === 'PurchaseLinkedToAppUser' && fact.data.via !== 'app_account_token') {
          throw new PurchaseRuleViolation('A store links purchases to app users only through the app account token');
        }
      }
      // Every fact is recorded, even one that changes nothing now (an old observation
      // arriving late): the log is what the stores told us. A fact told twice has the
      // same event id, so the event store keeps it once.
      return withoutRepeats(command.data.facts);
    }
    case 'LinkToAppUser': {
      const { appUserId, via, at, whenOwnedByAnother = 'keep' } = command.data;
      if (!appUserId.trim()) throw new PurchaseRuleViolation('The app user id is empty');
      if (!isCanonicalTimestamp(at)) throw new PurchaseRuleViolation(`${at} is not a UTC timestamp`);
      const owner = ownerOf(state);
      const link = (data: { via: LinkSource; previousAppUserId?: string }): PurchaseEvent => ({
        type: 'PurchaseLinkedToAppUser',
        data: { appUserId, ...data, observedAt: at },
      });
      if (via === 'support_transfer') {
        return [link({ via, ...(owner && owner.appUserId !== appUserId && { previousAppUserId: owner.appUserId }) })];
      }
      if (!owner) return [link({ via })];
      // Claimed again by its owner (a reinstall, a second device): nothing new to record.
      if (owner.appUserId === appUserId) return [];
      // A restore on another account. Both outcomes are recorded, for support to see.
      if (whenOwnedByAnother === 'transfer') {
        return [link({ via: 'restore_transfer', previousAppUserId: owner.appUserId })];
      }
      return [{ type: 'PurchaseClaimRefused', data: { appUserId, ownerAppUserId: owner.appUserId, observedAt: at } }];
    }
    case 'GiveGrant':
    case 'EndGrant':
      return decideGrant(command, state);
  }
}

export const purchaseDecider = { decide, evolve, initialState };

function withoutRepeats(facts: readonly PurchaseEvent[]): PurchaseEvent[] {
  const seen = new Set<string>();
  return facts.filter((fact) => {
    const key = canonical(fact);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function assertWellFormed(fact: PurchaseEvent): void {
  const problem = problemWith(fact);
  if (problem) throw new PurchaseRuleViolation(`${fact.type}: ${problem}`);
}

function problemWith(fact: PurchaseEvent): string | undefined {
  const badTime = nonCanonicalTimestamp(fact.data);
  if (badTime) return `${badTime} is not a UTC timestamp like 2026-01-31T09:30:00.000Z`;
  if ('transaction' in fact.data) return problemWithTransaction(fact.data.transaction);
  return undefined;
}

/**
 * The first `...At` field, at any depth, that is not in canonical form. One form only,
 * so that the same instant always compares, sorts and hashes the same way.
 */
function nonCanonicalTimestamp(data: object, path = ''): string | undefined {
  for (const [key, value] of Object.entries(data)) {
    const here = path ? `${path}.${key}` : key;
    if (key.endsWith('At') && !isCanonicalTimestamp(value)) return here;
    if (value && typeof value === 'object') {
      const nested = nonCanonicalTimestamp(value, here);
      if (nested) return nested;
    }
  }
  return undefined;
}

function problemWithTransaction(t: Transaction): string | undefined {
  if (!t.transactionId) return 'the transaction has no id';
  if (!t.productId) return 'the transaction has no product id';
  if (t.expiresAt !== undefined && millis(t.expiresAt) <= millis(t.purchasedAt)) {
    return 'the transaction expires before it starts';
  }
  return undefined;
}
