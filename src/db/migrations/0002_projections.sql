-- Where each projection has got to in the global order. A projection writes its
-- read-model rows and this row in the same transaction, so a crash can neither
-- apply an event twice nor skip one.
CREATE TABLE projection_checkpoints (
  projection        text        PRIMARY KEY,
  commit_position   bigint      NOT NULL DEFAULT 0,
  sequence_position bigint      NOT NULL DEFAULT 0,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- The entitlement read model: one row per store purchase (a subscription or a
-- one-time product), found by the app user it belongs to.
--   state  : the folded purchase state (the projection's working copy)
--   status : what the purchase means now (current period, renewal, billing, access window)
CREATE TABLE purchases (
  stream_id        text        PRIMARY KEY,
  store            text        NOT NULL,
  environment      text        NOT NULL,
  purchase_id      text        NOT NULL,
  app_user_id      text,
  store_product_id text,
  product_id       text,
  access_from      timestamptz,
  access_until     timestamptz,
  lifetime_access  boolean     NOT NULL DEFAULT false,
  state            jsonb       NOT NULL,
  status           jsonb       NOT NULL,
  stream_version   bigint      NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX purchases_by_app_user ON purchases (app_user_id) WHERE app_user_id IS NOT NULL;
-- Store products the catalog does not know: recorded, never silently dropped.
CREATE INDEX purchases_unknown_product ON purchases (store_product_id) WHERE product_id IS NULL;
