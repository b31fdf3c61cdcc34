-- Signed documents are archived with their JWS headers kept once (src/eventstore/
-- shared-jws-headers.ts). An App Store notification repeats one header, with its
-- certificate chain, three times: 10 of its 15 kB. Its row now holds the rest (about
-- 2 kB, the payload decoded) and refers to the header by digest; reading it back
-- restores the document byte for byte, as it was checked to when it was written.
-- Documents archived before stay verbatim, and so does anything that is not a JWS.
CREATE TABLE jws_headers (
  digest  text PRIMARY KEY,  -- the SHA-256 of the header segment, in hex
  segment text NOT NULL      -- the header exactly as it was signed (base64url)
);

ALTER TABLE source_documents
  ADD COLUMN body_encoding text NOT NULL DEFAULT 'verbatim'
    CONSTRAINT source_documents_body_encoding CHECK (body_encoding IN ('verbatim', 'jws-shared-headers'));

-- A stored form of a few kB stays in its row rather than in TOAST chunks of 2 kB, each an
-- index entry of its own (the body's storage is EXTERNAL: never compressed, so the whole
-- row is at most a page). Verbatim documents above the target still go to TOAST.
ALTER TABLE source_documents SET (toast_tuple_target = 8160);
