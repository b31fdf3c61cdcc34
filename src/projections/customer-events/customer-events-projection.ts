import type { Queryable } from '../../db/pool.ts';
import type { Catalog } from '../../domain/catalog.ts';
import type { CustomerEvent } from '../../domain/customer-events/customer-event.ts';
import { customerEventsOf } from '../../domain/customer-events/customer-events-of.ts';
import type { CustomerPurchase } from '../../domain/entitlements.ts';
import { isPurchaseEvent, type PurchaseEvent } from '../../domain/purchase/events.ts';
import { parsePurchaseStreamId } from '../../domain/purchase/purchase-key.ts';
import { evolve, initialState, type PurchaseState } from '../../domain/purchase/state.ts';
import type { RecordedEvent } from '../../eventstore/event-store.ts';
import { formatPosition } from '../../eventstore/global-position.ts';
import type { Projection } from '../projection.ts';
import { endpointWants, loadEnabledEndpoints } from './endpoint-filter.ts';

export const CUSTOMER_EVENTS_PROJECTION = 'customer-events';

/**
 * The customer events the ledger sets off, and their deliveries. It folds each purchase
 * stream itself, fact by fact, so each fact's "before" and "after" are exact whatever
 * the entitlement read model's position; the events, the deliveries to every enabled
 * endpoint that wants them and the checkpoint commit together (the runner's
 * transaction): each fact is scheduled once, none is lost, a crash repeats nothing.
 */
export function customerEventsProjection(options: { readonly catalog: Catalog }): Projection {
  return {
    name: CUSTOMER_EVENTS_PROJECTION,

    async apply(events, tx) {
      const facts = events.filter(isPurchaseEvent).filter((e) => parsePurchaseStreamId(e.streamId));
      if (facts.length === 0) return;
      const states = await loadStates(tx, [...new Set(facts.map((e) => e.streamId))]);
      const folded = foldInTurn(facts, states);
      const others = new PurchasesOfCustomers(tx, states);
      // Everyone the batch's purchases name, read in one query rather than one per fact.
      await others.load(ownersNamedBy(folded));
      const written: { event: CustomerEvent; id: string; ledger: RecordedEvent }[] = [];

      for (const { ledger, before, after } of folded) {
        // The batch's purchases as they stand at this fact: a later fact, even of the same
        // moment, must not count for this one's entitlements.
        states.set(ledger.streamId, after);
        const setOff = customerEventsOf({
          event: ledger,
          key: parsePurchaseStreamId(ledger.streamId)!,
          before,
          after,
          othersOf: (appUserId) => others.of(appUserId, ledger.streamId),
          catalog: options.catalog,
        });
        setOff.forEach((event, n) => written.push({ event, id: `evt_${ledger.id}_${n}`, ledger }));
      }

      await saveStates(tx, states);
      if (written.length === 0) return;
      // Only events new to the table are scheduled: after a rebuild, the same facts set off
      // the same events under the same ids, already told.
      const inserted = await insertEvents(tx, written);
      const endpoints = await loadEnabledEndpoints(tx);
      const deliveries = written
        .filter(({ id }) => inserted.has(id))
        .flatMap(({ event, id }) =>
          endpoints
            .filter((endpoint) => endpointWants(endpoint, event))
            .map((endpoint) => ({
              endpoint_id: endpoint.id,
              event_id: id,
              app_user_id: event.appUserId,
            })),
        );
      if (deliveries.length === 0) return;
      await tx.query(
        `INSERT INTO webhook_deliveries (endpoint_id, event_id, app_user_id)
         SELECT endpoint_id, event_id, app_user_id
         FROM jsonb_to_recordset($1::jsonb) AS d(endpoint_id text, event_id text, app_user_id text)`,
        [JSON.stringify(deliveries)],
      );
    },

    async reset(tx) {
      // The events already told stay told: a rebuild folds the states again and finds the
      // same events under the same ids (kept), and schedules none of them again.
      await tx.query('TRUNCATE customer_event_purchases');
    },
  };
}

/** Each fact with its purchase before and after it, folded in order (on a copy: `states` is left as it is). */
function foldInTurn(facts: readonly (RecordedEvent & PurchaseEvent)[], states: ReadonlyMap<string, PurchaseState>) {
  const folded = new Map(states);
  return facts.map((ledger) => {
    const before = folded.get(ledger.streamId) ?? initialState();
    const after = evolve(before, ledger);
    folded.set(ledger.streamId, after);
    return { ledger, before, after };
  });
}

/** Every app user the batch's purchases name once its facts are folded in. */
function ownersNamedBy(folded: readonly { readonly after: PurchaseState }[]): string[] {
  return [...new Set(folded.flatMap(({ after }) => after.links.map((link) => link.value.appUserId)))];
}

/** The other purchases of the customers a batch touches, read once per batch. */
class PurchasesOfCustomers {
  private readonly streamsOf = new Map<string, string[]>();
  private readonly tx: Queryable;
  private readonly states: Map<string, PurchaseState>;

  constructor(tx: Queryable, states: Map<string, PurchaseState>) {
    this.tx = tx;
    this.states = states;
  }

  async load(appUserIds: readonly string[]): Promise<void> {
    const missing = appUserIds.filter((id) => !this.streamsOf.has(id));
    if (missing.length === 0) return;
    const { rows } = await this.tx.query<{ stream_id: string; state: PurchaseState; named: string[] }>({
      name: 'customer-events-load-named',
      // Through the GIN index whatever the table's size (migration 0021).
      text: 'SELECT stream_id, state, named FROM customer_event_purchases_naming($1::text[])',
      values: [missing],
    });
    for (const id of missing) this.streamsOf.set(id, []);
    for (const row of rows) {
      if (!this.states.has(row.stream_id)) this.states.set(row.stream_id, row.state);
      for (const id of row.named) this.streamsOf.get(id)?.push(row.stream_id);
    }
  }

  /** Every purchase that named the app user, as folded so far in this batch, but `except`. */
  of(appUserId: string, except: string): CustomerPurchase[] {
    const streams = new Set(this.streamsOf.get(appUserId) ?? []);
    // Purchases this batch linked to them, not yet saved.
    for (const [streamId, state] of this.states) {
      if (state.links.some((l) => l.value.appUserId === appUserId)) streams.add(streamId);
    }
    streams.delete(except);
    return [...streams].map((streamId) => ({
      key: parsePurchaseStreamId(streamId)!,
      state: this.states.get(streamId)!,
    }));
  }
}

async function loadStates(tx: Queryable, streamIds: string[]): Promise<Map<string, PurchaseState>> {
  const { rows } = await tx.query<{ stream_id: string; state: PurchaseState }>(
    'SELECT stream_id, state FROM customer_event_purchases WHERE stream_id = ANY($1)',
    [streamIds],
  );
  return new Map(rows.map((r) => [r.stream_id, r.state]));
}

async function saveStates(tx: Queryable, states: Map<string, PurchaseState>): Promise<void> {
  const rows = [...states].map(([stream_id, state]) => ({
    stream_id,
    state,
    named: [...new Set(state.links.map((l) => l.value.appUserId))],
  }));
  await tx.query(
    `INSERT INTO customer_event_purchases (stream_id, state, named)
     SELECT stream_id, state, ARRAY(SELECT jsonb_array_elements_text(named))
     FROM jsonb_to_recordset($1::jsonb) AS r(stream_id text, state jsonb, named jsonb)
     ON CONFLICT (stream_id) DO UPDATE SET state = excluded.state, named = excluded.named`,
    [JSON.stringify(rows)],
  );
}

async function insertEvents(
  tx: Queryable,
  written: readonly { event: CustomerEvent; id: string; ledger: RecordedEvent }[],
): Promise<Set<string>> {
  const rows = written.map(({ event, id, ledger }) => ({
    id,
    ledger_commit: String(ledger.position.commit),
    ledger_sequence: String(ledger.position.sequence),
    ledger_event_id: ledger.id,
    app_user_id: event.appUserId,
    type: event.type,
    environment: event.purchase.environment,
    occurred_at: event.occurredAt,
    payload: {
      ...event,
      ledgerPosition: formatPosition(ledger.position),
      source: ledger.metadata.source?.documentId ?? null,
    },
  }));
  const { rows: inserted } = await tx.query<{ id: string }>(
    `INSERT INTO customer_events (id, ledger_commit, ledger_sequence, ledger_event_id, app_user_id, type, environment,
       occurred_at, payload)
     SELECT id, ledger_commit, ledger_sequence, ledger_event_id, app_user_id, type, environment, occurred_at, payload
     FROM jsonb_to_recordset($1::jsonb) AS r(id text, ledger_commit bigint, ledger_sequence bigint, ledger_event_id text,
       app_user_id text, type text, environment text, occurred_at timestamptz, payload jsonb)
     ON CONFLICT (id) DO NOTHING
     RETURNING id`,
    [JSON.stringify(rows)],
  );
  return new Set(inserted.map((r) => r.id));
}
