import type { Queryable } from '../db/pool.ts';
import { customerStreams } from '../projections/entitlements/customer-purchases.ts';
import type { Catalog } from '../domain/catalog.ts';
import { customerEntitlementsAt, type Entitlement } from '../domain/entitlements.ts';
import { isPurchaseEvent, type PurchaseEvent } from '../domain/purchase/events.ts';
import { parsePurchaseStreamId, type PurchaseKey } from '../domain/purchase/purchase-key.ts';
import { evolve, initialState, type PurchaseState } from '../domain/purchase/state.ts';
import { toTimestamp, type Timestamp } from '../domain/time.ts';
import type { EventMetadata, EventStore, RecordedEvent } from '../eventstore/event-store.ts';
import { comparePositions, formatPosition } from '../eventstore/global-position.ts';
import { historyCauses, type HistoryCause } from './history-causes.ts';

/** One entitlement before and after an event, as the customer had it. */
export interface EntitlementChange {
  readonly entitlement: string;
  readonly before: EntitlementView | null;
  readonly after: EntitlementView | null;
  /** For people: "premium active until 2026-12-24 09:30:00 UTC", "premium ended (access until ...)". */
  readonly summary: string;
}
export interface EntitlementView {
  readonly active: boolean;
  readonly expiresAt: Timestamp | null;
  readonly willRenew: boolean;
  readonly purchaseId: string;
  readonly store: string;
}

export interface HistoryEntry {
  /** The event's global position: the order of the timeline, and a paging cursor. */
  readonly position: string;
  /** When Subledger recorded it. */
  readonly recordedAt: Timestamp;
  /** When the store says it happened. */
  readonly storeTime: string | null;
  readonly purchase: PurchaseKey;
  readonly type: string;
  readonly data: unknown;
  readonly causationId: string | null;
  /** The store's document the fact comes from, in the source document archive. */
  readonly source: NonNullable<EventMetadata['source']> | null;
  readonly actor: NonNullable<EventMetadata['actor']> | null;
  /** The notification or action that recorded it, shared by every fact it recorded. */
  readonly cause: HistoryCause;
  /** What it changed in this customer's entitlements, at its store time. */
  readonly effects: EntitlementChange[];
}

/**
 * A customer's whole timeline, oldest first (in the order Subledger recorded it):
 * every event of every purchase they were ever linked to, with the change each made
 * to their entitlements. Computed from the event store, not the read model: each event
 * is folded onto its purchase, and the customer's entitlements are compared just before
 * and just after it, at the moment the store says it happened (a renewal at its
 * renewal, a late refund at its refund).
 */
export async function customerHistory(
  deps: { db: Queryable; eventStore: EventStore; catalog: Catalog },
  appUserId: string,
): Promise<HistoryEntry[]> {
  const events = await customerEvents(deps, appUserId);
  const causes = await historyCauses(
    deps.db,
    events.map((e) => ({ position: formatPosition(e.position), metadata: e.metadata })),
  );
  const states = new Map<string, { key: PurchaseKey; state: PurchaseState }>();
  const entries: HistoryEntry[] = [];
  for (const event of events) {
    const key = parsePurchaseStreamId(event.streamId)!;
    const recordedAt = toTimestamp(event.recordedAt);
    const at = event.metadata.storeTime ?? recordedAt;
    const before = ownedEntitlements(states, appUserId, deps.catalog, at);
    const previous = states.get(event.streamId)?.state ?? initialState();
    states.set(event.streamId, { key, state: evolve(previous, event) });
    const after = ownedEntitlements(states, appUserId, deps.catalog, at);
    const position = formatPosition(event.position);
    entries.push({
      position,
      recordedAt,
      storeTime: event.metadata.storeTime ?? null,
      purchase: key,
      type: event.type,
      data: event.data,
      causationId: event.metadata.causationId ?? null,
      source: event.metadata.source ?? null,
      actor: event.metadata.actor ?? null,
      cause: causes.get(position)!,
      effects: changes(before, after),
    });
  }
  return entries;
}

/**
 * The customer's entitlements at `at`, two ways (a late notification can change the
 * past): as Subledger knew them then (only what it had recorded by `at`), and as it
 * knows them now about then (everything recorded since, at the store's times).
 */
export async function entitlementsAtMoment(
  deps: { db: Queryable; eventStore: EventStore; catalog: Catalog },
  appUserId: string,
  at: Timestamp,
): Promise<{ asKnownThen: readonly Entitlement[]; asKnownNow: readonly Entitlement[] }> {
  const events = await customerEvents(deps, appUserId);
  const fold = (upTo: (event: RecordedPurchaseEvent) => boolean) => {
    const states = new Map<string, { key: PurchaseKey; state: PurchaseState }>();
    for (const event of events.filter(upTo)) {
      const previous = states.get(event.streamId)?.state ?? initialState();
      states.set(event.streamId, { key: parsePurchaseStreamId(event.streamId)!, state: evolve(previous, event) });
    }
    return customerEntitlementsAt([...states.values()], deps.catalog, at, { ownedBy: appUserId }).entitlements;
  };
  const cutoff = Date.parse(at);
  return { asKnownThen: fold((e) => e.recordedAt.getTime() <= cutoff), asKnownNow: fold(() => true) };
}

type RecordedPurchaseEvent = RecordedEvent & PurchaseEvent;

async function customerEvents(
  deps: { db: Queryable; eventStore: EventStore },
  appUserId: string,
): Promise<RecordedPurchaseEvent[]> {
  const streams = await customerStreams(deps.db, appUserId);
  const read = await Promise.all(streams.map((s) => deps.eventStore.readStream(s)));
  const events = read.flat().filter((e): e is RecordedPurchaseEvent => isPurchaseEvent(e));
  return events.sort((a, b) => comparePositions(a.position, b.position));
}

function ownedEntitlements(
  states: ReadonlyMap<string, { key: PurchaseKey; state: PurchaseState }>,
  appUserId: string,
  catalog: Catalog,
  at: Timestamp,
): Map<string, EntitlementView> {
  return new Map(
    customerEntitlementsAt([...states.values()], catalog, at, { ownedBy: appUserId }).entitlements.map((e) => [
      e.id,
      {
        active: e.active,
        expiresAt: e.expiresAt,
        willRenew: e.willRenew,
        purchaseId: e.purchase.purchaseId,
        store: e.purchase.store,
      },
    ]),
  );
}

function changes(before: Map<string, EntitlementView>, after: Map<string, EntitlementView>): EntitlementChange[] {
  const ids = [...new Set([...before.keys(), ...after.keys()])].sort();
  return ids.flatMap((id) => {
    const b = before.get(id) ?? null;
    const a = after.get(id) ?? null;
    if (JSON.stringify(b) === JSON.stringify(a)) return [];
    return [{ entitlement: id, before: b, after: a, summary: summary(id, b, a) }];
  });
}

function summary(id: string, before: EntitlementView | null, after: EntitlementView | null): string {
  if (after?.active) {
    const until = after.expiresAt ? `until ${forPeople(after.expiresAt)}` : 'for good';
    const renews = after.willRenew ? '' : ', will not renew';
    return `${id} active ${until}${renews}`;
  }
  // The purchase giving it moved to another account (a transfer, a restore elsewhere).
  if (!after) return `${id} no longer theirs`;
  if (before?.active) return `${id} ended${after.expiresAt ? ` (access until ${forPeople(after.expiresAt)})` : ''}`;
  return `${id} inactive`;
}

/** `2026-12-24 09:30:00 UTC`: a timestamp as a person reads it, to the second. */
function forPeople(timestamp: string): string {
  return timestamp.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
}
