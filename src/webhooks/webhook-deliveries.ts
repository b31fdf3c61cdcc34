import { randomUUID } from 'node:crypto';
import type { Pool } from '../db/pool.ts';
import { withTransaction } from '../db/transaction.ts';
import type { Clock } from '../domain/clock.ts';
import { refusalFamily, type KindOfCode } from '../domain/refusal.ts';
import type { GlobalPosition } from '../eventstore/global-position.ts';
import { EndpointRefused } from './webhook-endpoints.ts';

export type ReplayRefusalCode = 'invalid_replay' | 'unknown_delivery';
const KIND_OF: KindOfCode<ReplayRefusalCode> = { invalid_replay: 'invalid', unknown_delivery: 'not_found' };
export class ReplayRefused extends refusalFamily(KIND_OF) {}

export interface DeliveryRecord {
  readonly id: string;
  readonly endpointId: string;
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

/** What to send again: events from a place in the ledger or a time, or one customer's, or both. */
export interface ReplaySelection {
  readonly fromPosition?: GlobalPosition;
  /** Events recorded at or after this time. */
  readonly fromTime?: Date;
  readonly appUserId?: string;
}

export interface ReplayPlan {
  readonly count: number;
  /** The selection had more than REPLAY_LIMIT events: replay again from after the last one. */
  readonly truncated: boolean;
  /** The first of them, in ledger order (at most PLAN_PREVIEW). */
  readonly events: readonly { eventId: string; type: string; appUserId: string; occurredAt: Date }[];
}

/** At most this many events in one replay: a bigger one is several, by position. */
export const REPLAY_LIMIT = 100_000;
const PLAN_PREVIEW = 100;

/** Who a test event is about: no customer, so it never waits behind one, nor holds one up. */
const TEST_CUSTOMER = '(test)';

/** An endpoint's deliveries, as support staff see them, and the ones they ask for. */
export class WebhookDeliveries {
  private readonly pool: Pool;
  private readonly clock: Clock;

  private readonly scheduledListeners = new Set<() => void>();

  constructor(pool: Pool, clock: Clock) {
    this.pool = pool;
    this.clock = clock;
  }

  /** Calls `listener` after support staff scheduled deliveries here (a test, a replay, a retry). Returns an unsubscribe. */
  onScheduled(listener: () => void): () => void {
    this.scheduledListeners.add(listener);
    return () => this.scheduledListeners.delete(listener);
  }

  private scheduled(): void {
    for (const listener of this.scheduledListeners) listener();
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
    this.scheduled();
    return { eventId };
  }

  /**
   * Sends an endpoint again the customer events chosen (those its filters take), in ledger
   * order, each with its own `webhook-id`: a receiver that keeps ids sees them as the same
   * events. With `dryRun`, only says what would be sent.
   */
  async replay(endpointId: string, selection: ReplaySelection, { dryRun }: { dryRun: boolean }): Promise<ReplayPlan> {
    if (!selection.fromPosition && !selection.fromTime && selection.appUserId === undefined) {
      throw new ReplayRefused('invalid_replay', 'Say where to replay from (a position or a time), or whose events');
    }
    const now = this.clock.now();
    const chosen = `
      WITH endpoint AS (SELECT id, event_types, environments FROM webhook_endpoints WHERE id = $1),
      chosen AS (
        SELECT ev.id, ev.type, ev.app_user_id, ev.occurred_at, ev.ledger_commit, ev.ledger_sequence
        FROM customer_events ev, endpoint e
        WHERE ev.type <> 'TEST'
          AND (e.event_types IS NULL OR ev.type = ANY (e.event_types))
          AND (e.environments IS NULL OR ev.environment = ANY (e.environments))
          AND ($2::bigint IS NULL OR (ev.ledger_commit, ev.ledger_sequence) >= ($2::bigint, $3::bigint))
          AND ($4::timestamptz IS NULL OR ev.created_at >= $4)
          AND ($5::text IS NULL OR ev.app_user_id = $5)
        ORDER BY ev.ledger_commit, ev.ledger_sequence, ev.id
        LIMIT ${REPLAY_LIMIT}
      )`;
    const parameters = [
      endpointId,
      selection.fromPosition?.commit.toString() ?? null,
      selection.fromPosition?.sequence.toString() ?? null,
      selection.fromTime ?? null,
      selection.appUserId ?? null,
    ];
    await this.mustExist(endpointId);
    type Row = { id: string; type: string; app_user_id: string; occurred_at: Date; total: string };
    // One snapshot: what is said is what was scheduled.
    const rows = await withTransaction(this.pool, async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      if (!dryRun) {
        await tx.query(
          `${chosen}
           INSERT INTO webhook_deliveries (endpoint_id, event_id, app_user_id, cause, next_attempt_at, created_at)
           SELECT $1, id, app_user_id, 'replay', $6, $6 FROM chosen
           ORDER BY ledger_commit, ledger_sequence, id`,
          [...parameters, now],
        );
      }
      const plan = await tx.query<Row>(
        `${chosen}
         SELECT id, type, app_user_id, occurred_at, count(*) OVER () AS total FROM chosen
         ORDER BY ledger_commit, ledger_sequence, id LIMIT ${PLAN_PREVIEW}`,
        parameters,
      );
      return plan.rows;
    });
    const count = Number(rows[0]?.total ?? 0);
    if (!dryRun && count > 0) this.scheduled();
    return {
      count,
      truncated: count >= REPLAY_LIMIT,
      events: rows.map((r) => ({ eventId: r.id, type: r.type, appUserId: r.app_user_id, occurredAt: r.occurred_at })),
    };
  }

  /** A dead delivery (or a pending one) tried again now, afresh: a new retry horizon, back-off from the start. */
  async retry(deliveryId: string): Promise<void> {
    const { rowCount } = await this.pool.query(
      `UPDATE webhook_deliveries
       SET status = 'pending', next_attempt_at = $2, created_at = $2, attempts = 0, lease_until = NULL
       WHERE id = $1::bigint AND status <> 'delivered'`,
      [deliveryId, this.clock.now()],
    );
    if (rowCount === 0) throw new ReplayRefused('unknown_delivery', `No undelivered delivery ${deliveryId}`);
    this.scheduled();
  }

  private async mustExist(endpointId: string): Promise<void> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM webhook_endpoints WHERE id = $1', [endpointId]);
    if (rowCount === 0) throw new EndpointRefused('unknown_endpoint', `No webhook endpoint ${endpointId}`);
  }

  /** Per enabled endpoint with deliveries waiting, the age in seconds of the oldest. */
  async backlog(): Promise<Record<string, number>> {
    const { rows } = await this.pool.query<{ endpoint_id: string; seconds: number }>(
      `SELECT d.endpoint_id, extract(epoch FROM $1::timestamptz - min(d.created_at))::float8 AS seconds
       FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
       WHERE d.status = 'pending' GROUP BY d.endpoint_id`,
      [this.clock.now()],
    );
    return Object.fromEntries(rows.map((r) => [r.endpoint_id, Math.max(0, r.seconds)]));
  }

  /** The endpoint's latest deliveries, newest first. */
  recent(endpointId: string, limit: number): Promise<DeliveryRecord[]> {
    return this.latest('d.endpoint_id = $1', endpointId, limit);
  }

  /** The latest deliveries about one customer, to every endpoint, newest first. */
  recentForCustomer(appUserId: string, limit: number): Promise<DeliveryRecord[]> {
    return this.latest('d.app_user_id = $1', appUserId, limit);
  }

  private async latest(where: string, value: string, limit: number): Promise<DeliveryRecord[]> {
    const { rows } = await this.pool.query<{
      id: string;
      endpoint_id: string;
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
      `SELECT d.id::text, d.endpoint_id, d.event_id, e.type, d.app_user_id, d.status, d.attempts, d.last_status,
              d.last_error, d.last_latency_ms, d.next_attempt_at, d.delivered_at, d.cause, d.created_at
       FROM webhook_deliveries d JOIN customer_events e ON e.id = d.event_id
       WHERE ${where} ORDER BY d.id DESC LIMIT $2`,
      [value, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      endpointId: r.endpoint_id,
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
