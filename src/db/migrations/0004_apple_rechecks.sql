-- App Store subscriptions whose paid period ended with auto-renew on but no renewal
-- notification arrived, re-checked with the App Store Server API (lost notifications
-- are common). One row per subscription: the period end last re-checked, so each
-- lapse is asked about once.
CREATE TABLE apple_rechecks (
  stream_id    text        PRIMARY KEY,
  access_until timestamptz NOT NULL,
  outcome      text        NOT NULL,
  checked_at   timestamptz NOT NULL DEFAULT now()
);
