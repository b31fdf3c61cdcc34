-- Keys that sign scoped access tokens (ES256). One signs new tokens until
-- `signs_until`; it stays published in the JWKS until the last token it signed has
-- expired, so rotation never breaks a valid token. Shared by every instance.
CREATE TABLE token_signing_keys (
  kid         text        PRIMARY KEY,
  private_jwk jsonb       NOT NULL,
  public_jwk  jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  signs_until timestamptz NOT NULL
);
