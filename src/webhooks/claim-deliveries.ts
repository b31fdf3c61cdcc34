import type { Pool } from '../db/pool.ts';
import { withIndexWalks } from '../db/transaction.ts';
import { HELD_PER_SLOT } from './held-deliveries.ts';

/**
 * The SQL that leases deliveries to send. A delivery may go when it is the head of its
 * endpoint and customer (the oldest of theirs still pending: a head waiting for its retry
 * holds its customer back), is due, and nobody holds its lease. Each endpoint gets as many
 * as it has room for (HELD_PER_SLOT times its `max_in_flight`, less $3: how many this
 * worker holds, by endpoint), and at most CLAIM_LIMIT in all are leased until $2. The limit
 * comes before the UPDATE, which PostgreSQL always runs to the end whatever a LIMIT outside
 * it says.
 *
 * Two ways to find heads:
 * - `CLAIM_FROM_OLDEST_DUE` looks at the oldest due deliveries only and keeps those with
 *   nothing older pending: by index, whatever the backlog. It looks at twice as many as
 *   there is room for, plus as many as the worker holds (the next events of customers being
 *   sent are among the oldest, and not heads), and at most MAX_CANDIDATES: each is an index
 *   probe, the bulk of a claim's cost. It can miss heads further on when the oldest belong
 *   to customers held back.
 * - `CLAIM_FROM_EVERY_HEAD` finds every customer's head, a scan of everything pending. The
 *   worker asks it when the first finds nothing, so no due head is ever left behind.
 */
export const CLAIM_LIMIT = 200;
const MAX_CANDIDATES = 2 * CLAIM_LIMIT;

const leaseAndRead = `
  due AS (
    SELECT id, ${HELD_PER_SLOT} * max_in_flight - coalesce(($3::jsonb ->> endpoint_id)::int, 0) AS room,
           row_number() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS rank
    FROM heads
    WHERE next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
  ),
  picked AS (SELECT id FROM due WHERE rank <= room ORDER BY id LIMIT ${CLAIM_LIMIT}),
  taken AS (
    -- By key, not through a join, whose order the planner would choose from its estimates:
    -- one walked the pending deliveries and read every picked one for each (160,000 rows).
    UPDATE webhook_deliveries d SET lease_until = $2
    WHERE d.id = ANY (ARRAY(SELECT id FROM picked)) AND d.status = 'pending'
      AND (d.lease_until IS NULL OR d.lease_until < $1)
    RETURNING d.id, d.endpoint_id, d.event_id, d.attempts, d.created_at
  )
  SELECT taken.id::text, taken.endpoint_id, e.url, e.secrets, e.max_in_flight, taken.event_id, ev.type, ev.occurred_at,
         ev.payload, taken.attempts, taken.created_at
  FROM taken JOIN webhook_endpoints e ON e.id = taken.endpoint_id JOIN customer_events ev ON ev.id = taken.event_id
  ORDER BY taken.id`;

export const CLAIM_FROM_OLDEST_DUE = `
  WITH held AS (
    SELECT ${HELD_PER_SLOT} * max_in_flight - coalesce(($3::jsonb ->> id)::int, 0) AS room,
           coalesce(($3::jsonb ->> id)::int, 0) AS held
    FROM webhook_endpoints WHERE enabled
  ),
  candidates AS (
    SELECT d.id, d.endpoint_id, d.app_user_id, d.next_attempt_at, d.lease_until, e.max_in_flight
    FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
    -- attempts >= 0: always true, and what lets this walk use the oldest-first index (migration 0025).
    WHERE d.status = 'pending' AND d.attempts >= 0 AND d.next_attempt_at <= $1
      AND (d.lease_until IS NULL OR d.lease_until < $1)
    ORDER BY d.id
    LIMIT (SELECT least(${MAX_CANDIDATES}, coalesce(sum(2 * greatest(room, 0) + held), 0)) FROM held)
  ),
  heads AS (
    -- A subquery per candidate, so each is one probe of the heads index, not a join over all
    -- (and only that index can answer it: migration 0025).
    SELECT c.* FROM candidates c
    WHERE c.id = (
      SELECT oldest.id FROM webhook_deliveries oldest
      WHERE oldest.endpoint_id = c.endpoint_id AND oldest.app_user_id = c.app_user_id AND oldest.status = 'pending'
      ORDER BY oldest.id
      LIMIT 1
    )
  ),${leaseAndRead}`;

export const CLAIM_FROM_EVERY_HEAD = `
  WITH heads AS (
    SELECT DISTINCT ON (d.endpoint_id, d.app_user_id) d.id, d.endpoint_id, d.next_attempt_at, d.lease_until,
           e.max_in_flight
    FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
    WHERE d.status = 'pending'
    ORDER BY d.endpoint_id, d.app_user_id, d.id
  ),${leaseAndRead}`;

/**
 * Runs a claim as the worker does: named, so each connection plans it once, and planned
 * with index walks only (see withIndexWalks), so that plan costs what the claim takes
 * whatever the statistics said when it was made.
 */
export async function claim<Row extends object>(
  pool: Pool,
  name: string,
  text: string,
  values: readonly unknown[],
): Promise<Row[]> {
  return withIndexWalks(pool, async (client) => (await client.query<Row>({ name, text, values: [...values] })).rows);
}
