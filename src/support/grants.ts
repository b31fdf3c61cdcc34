import { randomUUID } from 'node:crypto';
import type { Catalog } from '../domain/catalog.ts';
import type { PurchaseEvent, Transaction } from '../domain/purchase/events.ts';
import { purchaseStreamId, type PurchaseKey } from '../domain/purchase/purchase-key.ts';
import { foldPurchase } from '../domain/purchase/state.ts';
import { ownerOf } from '../domain/purchase/status.ts';
import { toTimestamp, type Timestamp } from '../domain/time.ts';
import type { EventMetadata, EventStore } from '../eventstore/event-store.ts';
import { isPurchaseEvent } from '../domain/purchase/events.ts';
import { recordPurchase } from '../ingest/record-purchase.ts';
import { Refusal, type KindOfCode } from '../domain/refusal.ts';

export type GrantRefusalCode = 'unknown_product' | 'invalid_period' | 'unknown_grant';

const KIND_OF: KindOfCode<GrantRefusalCode> = {
  unknown_product: 'invalid',
  invalid_period: 'invalid',
  unknown_grant: 'not_found',
};

export class GrantRefused extends Refusal<GrantRefusalCode> {
  constructor(code: GrantRefusalCode, message: string) {
    super(KIND_OF[code], code, message);
  }
}

/** Who grants, and why: kept on every event the grant records. */
export interface StaffAction {
  readonly staff: string;
  readonly reason: string;
}

export interface GrantRequest extends StaffAction {
  /** A catalog product: the grant gives its entitlements. */
  readonly productId: string;
  /** When it ends; absent with `durationDays` absent too: for good. */
  readonly endsAt?: Timestamp;
  readonly durationDays?: number;
}

export interface Grant {
  readonly grantId: string;
  readonly appUserId: string;
  readonly productId: string;
  readonly entitlements: readonly string[];
  readonly startsAt: Timestamp;
  readonly endsAt: Timestamp | null;
}

/**
 * Promotional entitlements support staff give: a purchase of Subledger's own store
 * (`promotional`), recorded in the event store like a store's, so it shows in customer
 * info, tokens, history and point-in-time answers like any other, with the staff
 * member and the reason on every event. It never renews.
 */
export async function grantEntitlement(
  deps: { eventStore: EventStore; catalog: Catalog; now?: () => Date },
  appUserId: string,
  request: GrantRequest,
): Promise<Grant> {
  const product = deps.catalog.products.find((p) => p.id === request.productId);
  if (!product) throw new GrantRefused('unknown_product', `The catalog has no product ${request.productId}`);
  const now = (deps.now?.() ?? new Date()).getTime();
  const end =
    request.endsAt !== undefined
      ? Date.parse(request.endsAt)
      : request.durationDays !== undefined
        ? now + request.durationDays * 86_400_000
        : undefined;
  if (end !== undefined && !(end > now)) throw new GrantRefused('invalid_period', 'A grant must end in the future');
  const grantId = randomUUID();
  const startsAt = toTimestamp(now);
  const transaction: Transaction = {
    transactionId: grantId,
    productId: product.id,
    purchasedAt: startsAt,
    ...(end !== undefined && { expiresAt: toTimestamp(end) }),
    periodType: 'normal',
    ownership: 'purchased',
  };
  const facts: PurchaseEvent[] =
    end === undefined
      ? [{ type: 'OneTimeProductPurchased', data: { transaction, observedAt: startsAt } }]
      : [
          { type: 'SubscriptionStarted', data: { transaction, observedAt: startsAt } },
          // A period implies auto-renew at its start (inferred, so the store's word wins a tie): a grant never renews.
          { type: 'AutoRenewTurnedOff', data: { observedAt: startsAt } },
        ];
  const key = grantKey(grantId);
  const context = staffContext(`grant:${grantId}`, request);
  await recordPurchase(deps.eventStore, key, { type: 'RecordStoreFacts', data: { facts } }, context);
  await recordPurchase(
    deps.eventStore,
    key,
    { type: 'LinkToAppUser', data: { appUserId, via: 'support_transfer', at: startsAt } },
    context,
  );
  return {
    grantId,
    appUserId,
    productId: product.id,
    entitlements: product.entitlements,
    startsAt,
    endsAt: end === undefined ? null : toTimestamp(end),
  };
}

/** Ends a grant now (its past stays in the history); `unknown_grant` unless it is this customer's. */
export async function revokeGrant(
  deps: { eventStore: EventStore; now?: () => Date },
  appUserId: string,
  grantId: string,
  action: StaffAction,
): Promise<void> {
  const key = grantKey(grantId);
  const events = (await deps.eventStore.readStream(purchaseStreamId(key))).filter(isPurchaseEvent);
  if (ownerOf(foldPurchase(events))?.appUserId !== appUserId) {
    throw new GrantRefused('unknown_grant', `${appUserId} has no grant ${grantId}`);
  }
  const revokedAt = toTimestamp(deps.now?.() ?? new Date());
  await recordPurchase(
    deps.eventStore,
    key,
    {
      type: 'RecordStoreFacts',
      data: {
        facts: [
          {
            type: 'TransactionRevoked',
            data: { transactionId: grantId, revokedAt, reason: 'other', observedAt: revokedAt },
          },
        ],
      },
    },
    staffContext(`revoke-grant:${grantId}:${revokedAt}`, action),
  );
}

/** A grant's purchase: Subledger's own store. */
export function grantKey(grantId: string): PurchaseKey {
  return { store: 'promotional', environment: 'production', purchaseId: grantId };
}

function staffContext(
  causationId: string,
  action: StaffAction,
): { causationId: string; metadata: Omit<EventMetadata, 'causationId' | 'storeTime'> } {
  return { causationId, metadata: { actor: { kind: 'staff', id: action.staff, reason: action.reason } } };
}
