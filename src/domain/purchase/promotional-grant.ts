import { refusalFamily, type KindOfCode } from '../refusal.ts';
import { isCanonicalTimestamp, millis, type Timestamp } from '../time.ts';
import type { PurchaseEvent, Transaction } from './events.ts';
import type { PurchaseState } from './state.ts';
import { ownerOf } from './status.ts';

/**
 * Promotional grants: purchases of Subledger's own store (`promotional`) that support
 * staff give and end. They are recorded as store facts are, so a grant shows in customer
 * info, tokens, history and point-in-time answers like any purchase; it never renews.
 */
export type GrantCommand =
  | {
      readonly type: 'GiveGrant';
      readonly data: {
        readonly grantId: string;
        /** A catalog product, checked against the catalog by the caller. */
        readonly productId: string;
        readonly appUserId: string;
        readonly startsAt: Timestamp;
        /** Absent: for good. */
        readonly endsAt?: Timestamp;
      };
    }
  | {
      readonly type: 'EndGrant';
      readonly data: { readonly grantId: string; readonly appUserId: string; readonly at: Timestamp };
    };

export type GrantRefusalCode = 'unknown_product' | 'invalid_period' | 'unknown_grant';

const KIND_OF: KindOfCode<GrantRefusalCode> = {
  unknown_product: 'invalid',
  invalid_period: 'invalid',
  unknown_grant: 'not_found',
};

export class GrantRefused extends refusalFamily(KIND_OF) {}

export function decideGrant(command: GrantCommand, state: PurchaseState): PurchaseEvent[] {
  return command.type === 'GiveGrant' ? give(command.data, state) : end(command.data, state);
}

function give(grant: Extract<GrantCommand, { type: 'GiveGrant' }>['data'], state: PurchaseState): PurchaseEvent[] {
  const { grantId, productId, appUserId, startsAt, endsAt } = grant;
  // Given already (a retry): its events are in the stream.
  if (state.transactions[grantId]) return [];
  if (!isCanonicalTimestamp(startsAt) || (endsAt !== undefined && !isCanonicalTimestamp(endsAt))) {
    throw new GrantRefused('invalid_period', 'A grant starts and ends at UTC timestamps');
  }
  if (endsAt !== undefined && millis(endsAt) <= millis(startsAt)) {
    throw new GrantRefused('invalid_period', 'A grant must end in the future');
  }
  const transaction: Transaction = {
    transactionId: grantId,
    productId,
    purchasedAt: startsAt,
    ...(endsAt !== undefined && { expiresAt: endsAt }),
    periodType: 'normal',
    ownership: 'purchased',
  };
  const observedAt = startsAt;
  // Bought, never renewing (a period implies auto-renew at its start, inferred, so this
  // statement wins a tie), and the customer's: one append, so never half given.
  const bought: PurchaseEvent[] =
    endsAt === undefined
      ? [{ type: 'OneTimeProductPurchased', data: { transaction, observedAt } }]
      : [
          { type: 'SubscriptionStarted', data: { transaction, observedAt } },
          { type: 'AutoRenewTurnedOff', data: { observedAt } },
        ];
  return [...bought, { type: 'PurchaseLinkedToAppUser', data: { appUserId, via: 'support_transfer', observedAt } }];
}

function end(request: Extract<GrantCommand, { type: 'EndGrant' }>['data'], state: PurchaseState): PurchaseEvent[] {
  const { grantId, appUserId, at } = request;
  if (!state.transactions[grantId] || ownerOf(state)?.appUserId !== appUserId) {
    throw new GrantRefused('unknown_grant', `${appUserId} has no grant ${grantId}`);
  }
  // Ended already: its end stays when it was.
  if (state.revocations[grantId]?.value) return [];
  return [
    { type: 'TransactionRevoked', data: { transactionId: grantId, revokedAt: at, reason: 'other', observedAt: at } },
  ];
}
