-- The key of the development identity provider (AUTH_DEV_TOKENS=on): Subledger signs
-- app-user tokens for local development with it. Never used in production.
CREATE TABLE dev_identity_keys (LIKE token_signing_keys INCLUDING ALL);
