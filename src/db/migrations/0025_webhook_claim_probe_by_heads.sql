-- The delivery worker's claim walks the oldest due deliveries by id, and asks of each
-- whether an older one of its endpoint and customer is pending: a probe of the heads index
-- (webhook_deliveries_heads). With statistics that said nothing was pending (analyzed when
-- every delivery was delivered), the planner answered that probe by walking the oldest-first
-- index instead, from the start, for every delivery looked at: 171,806 pages for a claim of
-- 200 with 2,000 pending. The oldest-first index now carries a condition only the walk
-- states (attempts >= 0, always true), so the probe can only be the heads index.
DROP INDEX webhook_deliveries_pending_by_id;
CREATE INDEX webhook_deliveries_pending_by_id ON webhook_deliveries (id) WHERE status = 'pending' AND attempts >= 0;
