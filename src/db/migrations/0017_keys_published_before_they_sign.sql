-- A signing key is published (in the JWKS) from `created_at` and signs from `signs_from`:
-- the next key is created a while before it takes over, so every verifier that caches
-- the JWKS has it before the first token it signs. Existing keys signed from creation.
ALTER TABLE token_signing_keys ADD COLUMN signs_from timestamptz;
UPDATE token_signing_keys SET signs_from = created_at;
ALTER TABLE token_signing_keys ALTER COLUMN signs_from SET NOT NULL;

ALTER TABLE dev_identity_keys ADD COLUMN signs_from timestamptz;
UPDATE dev_identity_keys SET signs_from = created_at;
ALTER TABLE dev_identity_keys ALTER COLUMN signs_from SET NOT NULL;
