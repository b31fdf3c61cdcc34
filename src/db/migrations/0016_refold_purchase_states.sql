-- Purchase states folded before answers were computed for a moment lack what those
-- answers need (when the store first reported each transaction, the subscription's
-- revocations) and hold observations inferred the old way. The read model is derived from
-- the events: it is emptied and its projection moved back to the first event, so the
-- runner folds every purchase again at start. No reader ever sees an old state.
TRUNCATE purchases, customer_streams;
UPDATE projection_checkpoints
   SET commit_position = 0, sequence_position = 0, updated_at = now()
 WHERE projection = 'purchases';
