-- Outgoing webhooks (issue 14). The customer-events projection folds each purchase
-- stream again for itself (so "before" and "after" are its own, at its own position) and
-- writes, in the transaction that moves its checkpoint, the customer events each fact sets
-- off and one delivery per matching endpoint: each fact is scheduled exactly once.

CREATE TABLE webhook_endpoints (
  id text PRIMARY KEY,
  url text NOT NULL,
  description text NOT NULL DEFAULT '',
  -- NULL: every type / every environment.
  event_types text[],
  environments text[],
  -- Signing secrets, newest first: [{ "secret": "whsec_...", "createdAt": ..., "expiresAt": ... }].
  -- Two are live during a rotation; every live one signs.
  secrets jsonb NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  max_in_flight integer NOT NULL DEFAULT 10 CHECK (max_in_flight > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE customer_events (
  id text PRIMARY KEY,
  -- The ledger event that set it off, and its place in the global order (commit, sequence).
  ledger_commit bigint NOT NULL,
  ledger_sequence bigint NOT NULL,
  ledger_event_id text NOT NULL,
  app_user_id text NOT NULL,
  type text NOT NULL,
  environment text NOT NULL,
  occurred_at timestamptz NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_events_by_position ON customer_events (ledger_commit, ledger_sequence);
CREATE INDEX customer_events_by_customer ON customer_events (app_user_id, ledger_commit, ledger_sequence);

-- The projection's own fold of each purchase stream, and who it ever named.
CREATE TABLE customer_event_purchases (
  stream_id text PRIMARY KEY,
  state jsonb NOT NULL,
  named text[] NOT NULL
);
CREATE INDEX customer_event_purchases_named ON customer_event_purchases USING gin (named);

-- One row per (endpoint, event) to send, in order per customer: `id` orders them.
CREATE TABLE webhook_deliveries (
  id bigserial PRIMARY KEY,
  endpoint_id text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id text NOT NULL REFERENCES customer_events (id),
  app_user_id text NOT NULL,
  -- pending: to send (or sending); delivered; dead: out of retries, or given up by hand.
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- A worker is sending it until then; another may take it after (a crashed worker).
  lease_until timestamptz,
  last_status integer,
  last_error text,
  last_latency_ms integer,
  delivered_at timestamptz,
  -- Why it was scheduled: the projection, a replay, a test.
  cause text NOT NULL DEFAULT 'ledger',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_heads ON webhook_deliveries (endpoint_id, app_user_id, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id DESC);
