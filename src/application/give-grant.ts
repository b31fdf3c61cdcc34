import { randomUUID } from 'node:crypto';
import type { Catalog } from '../domain/catalog.ts';
import { GrantRefused } from '../domain/purchase/promotional-grant.ts';
import type { PurchaseKey } from '../domain/purchase/purchase-key.ts';
import { toTimestamp, type Timestamp } from '../domain/time.ts';
import type { EventStore } from '../eventstore/event-store.ts';
import { newestPosition, recordPurchase } from '../ingest/record-purchase.ts';
import type { Clock } from '../domain/clock.ts';
import type { ReadModelView } from './read-model-view.ts';
import { staffContext, type StaffAction } from './staff-action.ts';

export interface GrantDeps {
  readonly eventStore: EventStore;
  readonly catalog: Catalog;
  readonly clock: Clock;
  readonly view: ReadModelView;
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
 * Gives a customer a catalog product's entitlements as a promotional grant, from now
 * (src/domain/purchase/promotional-grant.ts decides it), and returns once the read
 * model shows it.
 */
export async function giveGrant(deps: GrantDeps, appUserId: string, request: GrantRequest): Promise<Grant> {
  const product = deps.catalog.products.find((p) => p.id === request.productId);
  if (!product) throw new GrantRefused('unknown_product', `The catalog has no product ${request.productId}`);
  const now = deps.clock.now().getTime();
  const startsAt = toTimestamp(now);
  const endsAt =
    request.endsAt !== undefined
      ? toTimestamp(Date.parse(request.endsAt))
      : request.durationDays !== undefined
        ? toTimestamp(now + request.durationDays * 86_400_000)
        : undefined;
  const grantId = randomUUID();
  const key = grantKey(grantId);
  await recordPurchase(
    deps.eventStore,
    key,
    { type: 'GiveGrant', data: { grantId, productId: product.id, appUserId, startsAt, ...(endsAt && { endsAt }) } },
    staffContext(`grant:${grantId}`, request),
  );
  await deps.view.showWrites(await newestPosition(deps.eventStore, [key]), [appUserId]);
  return {
    grantId,
    appUserId,
    productId: product.id,
    entitlements: product.entitlements,
    startsAt,
    endsAt: endsAt ?? null,
  };
}

/** A grant's purchase: Subledger's own store. */
export function grantKey(grantId: string): PurchaseKey {
  return { store: 'promotional', environment: 'production', purchaseId: grantId };
}
