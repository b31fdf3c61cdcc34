-- Client configuration documents (feature flags, paywall, content kinds, minimum
-- versions, rules by platform and version), one per client app, edited by admins.
CREATE TABLE client_configs (
  client_id  text        PRIMARY KEY,
  document   jsonb       NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
