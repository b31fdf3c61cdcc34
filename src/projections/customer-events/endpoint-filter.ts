import type { Queryable } from '../../db/pool.ts';
import type { CustomerEvent } from '../../domain/customer-events/customer-event.ts';

export interface EndpointFilter {
  readonly id: string;
  /** Null: every type. */
  readonly eventTypes: readonly string[] | null;
  /** Null: every environment. */
  readonly environments: readonly string[] | null;
}

/** Whether an endpoint takes an event: its type and its purchase's environment. */
export function endpointWants(endpoint: EndpointFilter, event: Pick<CustomerEvent, 'type' | 'purchase'>): boolean {
  return (
    (endpoint.eventTypes === null || endpoint.eventTypes.includes(event.type)) &&
    (endpoint.environments === null || endpoint.environments.includes(event.purchase.environment))
  );
}

export async function loadEnabledEndpoints(tx: Queryable): Promise<EndpointFilter[]> {
  const { rows } = await tx.query<{ id: string; event_types: string[] | null; environments: string[] | null }>(
    'SELECT id, event_types, environments FROM webhook_endpoints WHERE enabled',
  );
  return rows.map((r) => ({ id: r.id, eventTypes: r.event_types, environments: r.environments }));
}
