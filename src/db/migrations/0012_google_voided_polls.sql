-- Google does not notify every refund, so voidedpurchases.list is polled. One row per
-- app package: the time the last complete poll asked Google as of, from which the next
-- one lists (less an overlap; recording is idempotent). No row: the last 30 days,
-- as far back as Google keeps voided purchases.
CREATE TABLE google_voided_polls (
  package_name text        PRIMARY KEY,
  polled_until timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
