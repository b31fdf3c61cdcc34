-- Receiving walks pending messages oldest first and stops after a batch; without this
-- index it had to read every pending message each time (a backlog made each receive
-- slower, just when speed matters).
CREATE INDEX intake_messages_pending_order ON intake_messages (message_id) WHERE state = 'pending';

-- Signed documents (a notification is about 15 kB of base64 and certificates) barely
-- compress, and compressing them on every insert cost more CPU than anything else in
-- accepting a webhook. Stored out of line, uncompressed.
ALTER TABLE source_documents ALTER COLUMN body SET STORAGE EXTERNAL;
