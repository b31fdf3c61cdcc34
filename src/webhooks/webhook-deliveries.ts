import { randomUUID } from 'node:crypto';
import type { Pool } from '../db/pool.ts';
import type { Clock } from '../domain/clock.ts';
import { EndpointRefused } from './webhook-endpoints.ts';

export interface DeliveryRecord {
  readonly id: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly appUserId: string;
  readonly status: 'pending' | 'delivered' | 'dead';
  readonly attempts: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly lastLatencyMs: number | null;
  readonly nextAttemptAt: Date | null;
  readonly deliveredAt: Date | null;
  readonly cause: string;
  readonly createdAt: Date;
}

/** Who a test event is about: no customer, so it never waits behind one, nor holds one up. */
const TEST_CUSTOMER = '(test)';

/** An endpoint's deliveries, as support staff see them, and the ones they ask for. */
export class WebhookDeliveries {
  private readonly pool: Pool;
  private readonly clock: Clock;

  constructor(pool: Pool, clock: Clock) {
    this.pool = pool;
    this.clock = clock;
  }

  /** Sends the endpoint a `TEST` event, to check that it is reachable and verifies signatures. */
  async sendTest(endpointId: string): Promise<{ eventId: string }> {
    const eventId = `evt_test_${randomUUID().replaceAll('-', '')}`;
    const now = this.clock.now();
    const { rowCount } = await this.pool.query(
      `WITH endpoint AS (SELECT id FROM webhook_endpoints WHERE id = $1),
       event AS (
         INSERT INTO customer_events (id, ledger_commit, ledger_sequence, ledger_event_id, app_user_id, type, environment,
           occurred_at, payload)
         SELECT $2, 0, 0, '', $3, 'TEST', 'sandbox', $4, $5 FROM endpoint
         RETURNING id
       )
       INSERT INTO webhook_deliveries (endpoint_id, event_id, app_user_id, cause, next_attempt_at, created_at)
       SELECT $1, id, $3, 'test', $4, $4 FROM event`,
      [endpointId, eventId, TEST_CUSTOMER, now, JSON.stringify({ type: 'TEST', occurredAt: now.toISOString() })],
    );
    if (rowCount === 0) throw new EndpointRefused('unknown_endpoint', `No webhook endpoint ${endpointId}`);
    return { eventId };
  }

  /** The endpoint's latest deliveries, newest first. */
  async recent(endpointId: string, limit: number): Promise<DeliveryRecord[]> {
    const { rows } = await this.pool.query<{
      id: string;
      event_id: string;
      type: string;
      app_user_id: string;
      status: DeliveryRecord['status'];
      attempts: number;
      last_status: number | null;
      last_error: string | null;
      last_latency_ms: number | null;
      next_attempt_at: Date;
      delivered_at: Date | null;
      cause: string;
      created_at: Date;
    }>(
      `SELECT d.id::text, d.event_id, e.type, d.app_user_id, d.status, d.attempts, d.last_status, d.last_error,
              d.last_latency_ms, d.next_attempt_at, d.delivered_at, d.cause, d.created_at
       FROM webhook_deliveries d JOIN customer_events e ON e.id = d.event_id
       WHERE d.endpoint_id = $1 ORDER BY d.id DESC LIMIT $2`,
      [endpointId, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      eventId: r.event_id,
      eventType: r.type,
      appUserId: r.app_user_id,
      status: r.status,
      attempts: r.attempts,
      lastStatus: r.last_status,
      lastError: r.last_error,
      lastLatencyMs: r.last_latency_ms,
      nextAttemptAt: r.status === 'pending' ? r.next_attempt_at : null,
      deliveredAt: r.delivered_at,
      cause: r.cause,
      createdAt: r.created_at,
    }));
  }
}
