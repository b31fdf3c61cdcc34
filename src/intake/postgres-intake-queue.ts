import { deleteInBatches } from '../db/delete-in-batches.ts';
import { GroupCommit, type Pending } from '../db/group-commit.ts';
import type { Queryable } from '../db/pool.ts';
import { archiveRows, INSERT_DOCUMENTS, INSERT_HEADERS } from '../eventstore/source-documents.ts';
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

type Enqueued = Awaited<ReturnType<IntakeQueue['enqueue']>>;

/** Messages enqueued together at most, when webhooks arrive concurrently. */
const MAX_GROUP = 100;

/**
 * Hands out up to $1 messages for $2 ms, oldest first, one at a time per ordering group.
 * A function (migration 0024) that reads the queue only through its indexes, so that a
 * receive costs the same with 20,000 waiting as with 20: not planned here, where a plan
 * made from lagging statistics read every pending message each time.
 */
export const RECEIVE_STATEMENT = 'SELECT * FROM intake_receive($1::int, $2::float8)';

/**
 * Where the queue announces, in the transaction that queues them, that it holds new messages:
 * a worker in another process listens here (database-signals.ts) rather than polling.
 */
export const INTAKE_CHANNEL = 'subledger_intake';

/**
 * The intake queue in PostgreSQL (schema: src/db/migrations/0003_intake_queue.sql). Every
 * commit that queues messages also notifies INTAKE_CHANNEL: whoever queued them (an API
 * instance, a Lambda, the CLI) wakes the workers without a transaction of its own.
 */
export class PostgresIntakeQueue implements IntakeQueue {
  private readonly enqueueListeners = new Set<() => void>();
  /** Notifications that arrive while another is being committed share its successor's transaction. */
  private readonly enqueues = new GroupCommit<NewIntakeMessage, Enqueued>({
    maxGroup: MAX_GROUP,
    commitTogether: (group) => this.enqueueTogether(group),
    commitAlone: (message) => this.enqueueAlone(message),
    afterCommit: () => {
      for (const listener of this.enqueueListeners) listener();
    },
  });

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

  async enqueue(message: NewIntakeMessage): Promise<Enqueued> {
    return this.enqueues.submit(message);
  }

  /**
   * Keeps the documents and queues the messages of a group in one statement, so one
   * commit. A deduplication id seen before, or earlier in the same group, is not queued
   * again: its caller learns the message that holds it.
   */
  private async enqueueTogether(group: readonly Pending<NewIntakeMessage, Enqueued>[]): Promise<void> {
    const messages = group.map(({ request }) => request);
    const documents = archiveRows(messages.map((m) => m.document));
    const { documentIds } = documents;
    const { rows } = await this.db.query<{ ordinal: number; message_id: string | null; inserted: boolean }>({
      name: 'intake-enqueue',
      text: `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                              $8::text[])
           WITH ORDINALITY AS i(deduplication_id, ordering_key, kind, document_id, document_kind, content_type, body,
                                body_encoding, ordinal)
       ),
       headers AS (${INSERT_HEADERS('$10', '$11')}),
       documents AS (
         ${INSERT_DOCUMENTS('SELECT document_id, document_kind, content_type, body, body_encoding FROM input')}
       ),
       inserted AS (
         INSERT INTO intake_messages (deduplication_id, ordering_key, kind, document_id)
         SELECT DISTINCT ON (deduplication_id) deduplication_id, ordering_key, kind, document_id
         FROM input ORDER BY deduplication_id, ordinal
         ON CONFLICT (deduplication_id) DO NOTHING
         RETURNING message_id, deduplication_id
       ),
       announced AS (SELECT pg_notify($9, '') AS done)
       SELECT i.ordinal::int,
              new.message_id,
              new.message_id IS NOT NULL
                AND i.ordinal = min(i.ordinal) OVER (PARTITION BY i.deduplication_id) AS inserted
       FROM input i
       LEFT JOIN inserted new USING (deduplication_id)
       CROSS JOIN announced
       ORDER BY i.ordinal`,
      values: [
        messages.map((m) => m.deduplicationId),
        messages.map((m) => m.orderingKey),
        messages.map((m) => m.kind),
        documentIds,
        documents.kinds,
        documents.contentTypes,
        documents.bodies,
        documents.encodings,
        INTAKE_CHANNEL,
        ...documents.headers,
      ],
    });
    // Ids queued before (a store's redelivery), or by another transaction meanwhile (committed
    // by now: the insert waited for it), are looked up after: rare, and never a join whose
    // plan could read the whole queue.
    const queuedBefore = rows.flatMap((row, i) => (row.message_id === null ? [messages[i]!.deduplicationId] : []));
    const holders = queuedBefore.length > 0 ? await this.messageIdsOf(queuedBefore) : new Map<string, string>();
    for (const [i, { request, resolve, reject }] of group.entries()) {
      const messageId = rows[i]!.message_id ?? holders.get(request.deduplicationId);
      if (messageId === undefined) reject(new Error(`No message holds ${request.deduplicationId}`));
      else resolve({ enqueued: rows[i]!.inserted, messageId, documentId: documentIds[i]! });
    }
  }

  /** The group statement, for one: a single statement, so a single commit. */
  private enqueueAlone(message: NewIntakeMessage): Promise<Enqueued> {
    return new Promise((resolve, reject) => {
      this.enqueueTogether([{ request: message, resolve, reject }]).catch(reject);
    });
  }

  private async messageIdsOf(deduplicationIds: readonly string[]): Promise<Map<string, string>> {
    const { rows } = await this.db.query<{ deduplication_id: string; message_id: string }>(
      'SELECT deduplication_id, message_id FROM intake_messages WHERE deduplication_id = ANY($1::text[])',
      [deduplicationIds],
    );
    return new Map(rows.map((r) => [r.deduplication_id, r.message_id]));
  }

  async receive({
    max,
    visibilityTimeoutMs,
  }: {
    max: number;
    visibilityTimeoutMs: number;
  }): Promise<ReceivedMessage[]> {
    const { rows } = await this.db.query<MessageRow>({
      name: 'intake-receive',
      text: RECEIVE_STATEMENT,
      values: [max, visibilityTimeoutMs],
    });
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
    // By each message's key, whatever the backlog (migration 0027).
    const { rows } = await this.db.query<{ acked: number }>({
      name: 'intake-ack-all',
      text: 'SELECT intake_ack($1::bigint[], $2::uuid[]) AS acked',
      values: [messages.map((m) => m.messageId), messages.map((m) => m.receipt)],
    });
    return rows[0]!.acked;
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
       WHERE message_id = $1 AND state = 'dead'
       RETURNING pg_notify($2, '')`,
      [messageId, INTAKE_CHANNEL],
    );
    return rowCount === 1;
  }

  /**
   * Forgets the processed messages queued before `before`. They were kept only to answer a
   * store's redelivery as a duplicate; a redelivery after this is queued and processed again
   * (an App Store notification then records nothing new: the ledger knows its facts by their
   * event ids; a Google one asks Google again, as any late one does). Dead letters and
   * messages still to process are kept. In batches, each its own transaction, so a large
   * first purge holds no long transaction. Returns how many it forgot.
   */
  async forgetProcessed(before: Date, { batch = 10_000 }: { batch?: number } = {}): Promise<number> {
    return deleteInBatches(
      this.db,
      // The old ones through the index on enqueued_at (migration 0028), deleted by their row
      // addresses: joined back by key, PostgreSQL chose to scan the whole queue for each batch.
      `DELETE FROM intake_messages WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM intake_messages WHERE enqueued_at < $1 AND state = 'done' LIMIT $2
       ))`,
      [before],
      batch,
    );
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
