import type { Queryable } from '../db/pool.ts';
import { documentIdOf } from '../eventstore/source-documents.ts';
import {
  DEFAULT_RETRY_POLICY,
  retryDecision,
  type DeadLetter,
  type IntakeQueue,
  type NewIntakeMessage,
  type ReceivedMessage,
  type RetryPolicy,
} from './intake-queue.ts';

interface MessageRow {
  message_id: string;
  deduplication_id: string;
  ordering_key: string;
  kind: string;
  document_id: string;
  attempts: number;
  receipt: string;
  enqueued_at: Date;
}

/** The intake queue in PostgreSQL (schema: src/db/migrations/0003_intake_queue.sql). */
export class PostgresIntakeQueue implements IntakeQueue {
  private readonly enqueueListeners = new Set<() => void>();

  private readonly db: Queryable;
  private readonly retry: RetryPolicy;

  constructor(db: Queryable, retry: RetryPolicy = DEFAULT_RETRY_POLICY) {
    this.db = db;
    this.retry = retry;
  }

  /** Calls `listener` after each new message (to wake a worker in this process). Returns an unsubscribe. */
  onEnqueued(listener: () => void): () => void {
    this.enqueueListeners.add(listener);
    return () => this.enqueueListeners.delete(listener);
  }

  async enqueue(message: NewIntakeMessage): Promise<{ enqueued: boolean; messageId: string; documentId: string }> {
    const { document } = message;
    const documentId = documentIdOf(document.body);
    // One statement, so one commit: accepting a webhook costs a single WAL flush.
    const { rows } = await this.db.query<{ message_id: string; inserted: boolean }>(
      `WITH document AS (
         INSERT INTO source_documents (document_id, kind, content_type, body) VALUES ($4, $5, $6, $7)
         ON CONFLICT (document_id) DO NOTHING
       ),
       inserted AS (
         INSERT INTO intake_messages (deduplication_id, ordering_key, kind, document_id)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (deduplication_id) DO NOTHING
         RETURNING message_id
       )
       SELECT message_id, true AS inserted FROM inserted
       UNION ALL
       SELECT message_id, false FROM intake_messages
       WHERE deduplication_id = $1 AND NOT EXISTS (SELECT 1 FROM inserted)`,
      [
        message.deduplicationId,
        message.orderingKey,
        message.kind,
        documentId,
        document.kind,
        document.contentType,
        document.body,
      ],
    );
    const row = rows[0]!;
    if (row.inserted) for (const listener of this.enqueueListeners) listener();
    return { enqueued: row.inserted, messageId: row.message_id, documentId };
  }

  async receive({
    max,
    visibilityTimeoutMs,
  }: {
    max: number;
    visibilityTimeoutMs: number;
  }): Promise<ReceivedMessage[]> {
    // Only the oldest pending message of each ordering group can go out, and only when
    // it is visible: while it is in flight, the rest of its group waits. Pending messages
    // are walked oldest first and the walk stops after a batch, so a backlog costs
    // nothing (both conditions are index probes).
    const { rows } = await this.db.query<MessageRow>(
      `WITH chosen AS (
         SELECT m.message_id FROM intake_messages m
         WHERE m.state = 'pending' AND m.visible_at <= now()
           AND NOT EXISTS (
             SELECT 1 FROM intake_messages older
             WHERE older.state = 'pending' AND older.ordering_key = m.ordering_key
               AND older.message_id < m.message_id)
         ORDER BY m.message_id
         LIMIT $1
         FOR UPDATE OF m SKIP LOCKED
       )
       UPDATE intake_messages m
       SET attempts = m.attempts + 1,
           receipt = gen_random_uuid(),
           visible_at = now() + make_interval(secs => $2::float8 / 1000)
       FROM chosen WHERE m.message_id = chosen.message_id
       RETURNING m.message_id, m.deduplication_id, m.ordering_key, m.kind, m.document_id, m.attempts,
                 m.receipt, m.enqueued_at`,
      [max, visibilityTimeoutMs],
    );
    return rows
      .sort((a, b) => Number(a.message_id) - Number(b.message_id))
      .map((r) => ({ ...messageOf(r), receipt: r.receipt, attempt: r.attempts }));
  }

  async ack(message: ReceivedMessage): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE intake_messages SET state = 'done', receipt = NULL, finished_at = now(), last_error = NULL
       WHERE message_id = $1 AND receipt = $2 AND state = 'pending'`,
      [message.messageId, message.receipt],
    );
    return rowCount === 1;
  }

  async ackAll(messages: readonly ReceivedMessage[]): Promise<number> {
    if (messages.length === 0) return 0;
    const { rowCount } = await this.db.query(
      `UPDATE intake_messages m SET state = 'done', receipt = NULL, finished_at = now(), last_error = NULL
       FROM unnest($1::bigint[], $2::uuid[]) AS acked(message_id, receipt)
       WHERE m.message_id = acked.message_id AND m.receipt = acked.receipt AND m.state = 'pending'`,
      [messages.map((m) => m.messageId), messages.map((m) => m.receipt)],
    );
    return rowCount ?? 0;
  }

  async fail(message: ReceivedMessage, reason: string, { permanent = false } = {}): Promise<'retry' | 'dead'> {
    const decision = retryDecision(this.retry, message.attempt, permanent);
    const dead = decision.outcome === 'dead';
    const backoffMs = decision.outcome === 'retry' ? decision.backoffMs : 0;
    await this.db.query(
      `UPDATE intake_messages
       SET state = CASE WHEN $3 THEN 'dead' ELSE 'pending' END,
           finished_at = CASE WHEN $3 THEN now() END,
           visible_at = now() + make_interval(secs => $4::float8 / 1000),
           receipt = NULL, last_error = $5
       WHERE message_id = $1 AND receipt = $2 AND state = 'pending'`,
      [message.messageId, message.receipt, dead, backoffMs, reason],
    );
    return dead ? 'dead' : 'retry';
  }

  async deadLetters({ limit = 100 } = {}): Promise<DeadLetter[]> {
    const { rows } = await this.db.query<MessageRow & { last_error: string; finished_at: Date }>(
      `SELECT * FROM intake_messages WHERE state = 'dead' ORDER BY finished_at DESC LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({ ...messageOf(r), attempts: r.attempts, reason: r.last_error, failedAt: r.finished_at }));
  }

  async retryDeadLetter(messageId: string): Promise<boolean> {
    // Message ids here are bigints: anything else names none (and must not reach SQL as one).
    if (!/^\d{1,19}$/.test(messageId) || BigInt(messageId) >= 2n ** 63n) return false;
    const { rowCount } = await this.db.query(
      `UPDATE intake_messages SET state = 'pending', attempts = 0, visible_at = now(), finished_at = NULL
       WHERE message_id = $1 AND state = 'dead'`,
      [messageId],
    );
    return rowCount === 1;
  }

  async depth(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM intake_messages WHERE state = 'pending'`,
    );
    return rows[0]!.n;
  }
}

function messageOf(row: MessageRow) {
  return {
    messageId: row.message_id,
    deduplicationId: row.deduplication_id,
    orderingKey: row.ordering_key,
    kind: row.kind,
    documentId: row.document_id,
    enqueuedAt: row.enqueued_at,
  };
}
