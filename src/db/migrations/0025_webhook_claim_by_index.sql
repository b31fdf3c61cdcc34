-- The delivery worker's claim, as a function that tells PostgreSQL how to read the
-- deliveries, for the reasons the intake queue's receive is one (migration 0024): its cost
-- must follow what it claims, never what is waiting, and plans made from lagging
-- statistics read every pending delivery for each claim. Measured with 1,000 to 4,000
-- pending, a claim of 200 read 29,364 to 101,299 pages in a plan kept from an empty table's
-- statistics (sequential scans), and 177,526 to 203,062 in one kept from statistics where
-- everything was delivered (the head probe walked the oldest-first index from its start);
-- now 6,500 to 6,800, whatever the backlog (test/webhooks/claim-plan.int.spec.ts). So:
-- - no sequential or bitmap scans, and no sorts where an index gives the order, while it runs;
-- - the deliveries picked are leased by key, not through a join;
-- - the oldest-first index carries a condition only the walk states (attempts >= 0, always
--   true), so "is it the oldest pending of its endpoint and customer" can only be a probe of
--   the heads index (webhook_deliveries_heads).
--
-- A delivery may go when it is the head of its endpoint and customer (the oldest of theirs
-- still pending: a head waiting for its retry holds its customer back), is due, and nobody
-- holds its lease. Each endpoint gets as many as it has room for (p_held_per_slot times its
-- max_in_flight, less what this worker holds of it, from p_held), and at most p_claim_limit
-- in all are leased until p_lease_until. The limit comes before the UPDATE, which PostgreSQL
-- always runs to the end whatever a LIMIT outside it says. Two ways to find heads:
-- - by default, from the oldest due deliveries only, keeping those with nothing older
--   pending: by index, whatever the backlog. It looks at twice as many as there is room for,
--   plus as many as the worker holds (the next events of customers being sent are among the
--   oldest, and not heads), and at most p_max_candidates. It can miss heads further on when
--   the oldest belong to customers held back;
-- - p_every_head: every customer's head, a walk of everything pending. The worker asks for it
--   when the first finds nothing, so no due head is ever left behind.
DROP INDEX webhook_deliveries_pending_by_id;
CREATE INDEX webhook_deliveries_pending_by_id ON webhook_deliveries (id) WHERE status = 'pending' AND attempts >= 0;

CREATE FUNCTION claim_webhook_deliveries(
  p_now timestamptz, p_lease_until timestamptz, p_held jsonb, p_every_head boolean,
  p_held_per_slot integer, p_claim_limit integer, p_max_candidates integer)
RETURNS TABLE (id text, endpoint_id text, url text, secrets jsonb, max_in_flight integer, event_id text,
               type text, occurred_at timestamptz, payload jsonb, attempts integer, created_at timestamptz)
LANGUAGE sql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
  WITH held AS (
    SELECT p_held_per_slot * e.max_in_flight - coalesce((p_held ->> e.id)::int, 0) AS room,
           coalesce((p_held ->> e.id)::int, 0) AS held
    FROM webhook_endpoints e WHERE e.enabled
  ),
  candidates AS (
    SELECT d.id, d.endpoint_id, d.app_user_id, d.next_attempt_at, d.lease_until, e.max_in_flight
    FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
    WHERE d.status = 'pending' AND d.attempts >= 0 AND d.next_attempt_at <= p_now
      AND (d.lease_until IS NULL OR d.lease_until < p_now)
    ORDER BY d.id
    LIMIT (SELECT least(p_max_candidates, coalesce(sum(2 * greatest(h.room, 0) + h.held), 0)) FROM held h)
  ),
  heads AS (
    -- A subquery per candidate, so each is one probe of the heads index, not a join over all.
    SELECT c.id, c.endpoint_id, c.next_attempt_at, c.lease_until, c.max_in_flight
    FROM candidates c
    WHERE NOT p_every_head AND c.id = (
      SELECT oldest.id FROM webhook_deliveries oldest
      WHERE oldest.endpoint_id = c.endpoint_id AND oldest.app_user_id = c.app_user_id AND oldest.status = 'pending'
      ORDER BY oldest.id
      LIMIT 1)
    UNION ALL
    (SELECT DISTINCT ON (d.endpoint_id, d.app_user_id) d.id, d.endpoint_id, d.next_attempt_at, d.lease_until,
            e.max_in_flight
     FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
     WHERE p_every_head AND d.status = 'pending'
     ORDER BY d.endpoint_id, d.app_user_id, d.id)
  ),
  due AS (
    SELECT h.id, p_held_per_slot * h.max_in_flight - coalesce((p_held ->> h.endpoint_id)::int, 0) AS room,
           row_number() OVER (PARTITION BY h.endpoint_id ORDER BY h.next_attempt_at, h.id) AS rank
    FROM heads h
    WHERE h.next_attempt_at <= p_now AND (h.lease_until IS NULL OR h.lease_until < p_now)
  ),
  picked AS (SELECT due.id FROM due WHERE due.rank <= due.room ORDER BY due.id LIMIT p_claim_limit),
  taken AS (
    UPDATE webhook_deliveries d SET lease_until = p_lease_until
    WHERE d.id = ANY (ARRAY(SELECT picked.id FROM picked)) AND d.status = 'pending'
      AND (d.lease_until IS NULL OR d.lease_until < p_now)
    RETURNING d.id, d.endpoint_id, d.event_id, d.attempts, d.created_at
  )
  SELECT taken.id::text, taken.endpoint_id, e.url, e.secrets, e.max_in_flight, taken.event_id, ev.type,
         ev.occurred_at, ev.payload, taken.attempts, taken.created_at
  FROM taken JOIN webhook_endpoints e ON e.id = taken.endpoint_id JOIN customer_events ev ON ev.id = taken.event_id
  ORDER BY taken.id
$$;
