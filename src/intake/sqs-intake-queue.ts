import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { deleteInBatches } from '../db/delete-in-batches.ts';
import { GroupCommit } from '../db/group-commit.ts';
import type { Queryable } from '../db/pool.ts';
import { SourceDocumentArchive } from '../eventstore/source-documents.ts';
import {
  DEFAULT_RETRY_POLICY,
  retryDecision,
  type DeadLetter,
  type IntakeMessageInput,
  type IntakeQueue,
  type NewIntakeMessage,
  type ReceivedMessage,
  type RetryPolicy,
} from './intake-queue.ts';

export interface SqsIntakeQueueOptions {
  readonly sqs: SQSClient;
  /** A FIFO queue (its name ends in `.fifo`). */
  readonly queueUrl: string;
  /**
   * The FIFO queue its redrive policy moves a message to after `maxReceiveCount` receives
   * (a message whose worker keeps dying before it can report a failure). Those are moved into
   * the dead letters listed here; without it they stay where SQS put them.
   */
  readonly deadLetterQueueUrl?: string;
  /** The source document archive, and this queue's memory (migration 0020). */
  readonly db: Queryable;
  readonly retry?: RetryPolicy;
}

type Enqueued = Awaited<ReturnType<IntakeQueue['enqueue']>>;

/** What a message carries: the document stays in PostgreSQL (SQS messages are limited to 256 KB). */
type Body = IntakeMessageInput;

/** The longest an SQS message may stay hidden: how long a dead letter being written is kept hidden. */
const MAX_VISIBILITY_SECONDS = 43_200;
/** The longest SQS's long polling waits. */
const MAX_WAIT_SECONDS = 20;
/** SQS hands out at most this many messages per receive, and takes this many per batch. */
const SQS_BATCH = 10;
/**
 * Notifications sent together at most: SendMessageBatch calls of ten, all at once, between
 * one archive statement and one record statement. A group of ten at a time, one group in
 * flight, held acceptance to about 800/s with the machine a third idle: each waited for
 * three statements and a send of the group before it.
 */
const MAX_GROUP = 100;

/**
 * The intake queue on Amazon SQS (FIFO): the ordering key is the message group, so a
 * subscription's notifications are handed out one at a time, oldest first; the
 * deduplication id is SQS's. What SQS cannot do is kept in PostgreSQL, beside the source
 * documents: the deduplication ids ever sent (SQS forgets them after five minutes; a later
 * duplicate is recognised here, and one that slips through, say sent again by a store after
 * a crash between the send and its record, is harmless: the ledger's event ids are
 * idempotent), and the dead letters support lists and retries.
 *
 * A receipt is checked before it is acted on (SQS accepts a delete with a stale receipt and
 * may delete nothing, or the message another receiver now holds): changing the message's
 * visibility fails for a receipt that is no longer current.
 */
export class SqsIntakeQueue implements IntakeQueue {
  private readonly options: SqsIntakeQueueOptions;
  private readonly documents: SourceDocumentArchive;
  private readonly retry: RetryPolicy;
  private readonly enqueueListeners = new Set<() => void>();
  /** Notifications that arrive while a group is being sent go together in the next. */
  private readonly enqueues = new GroupCommit<NewIntakeMessage, Enqueued>({
    maxGroup: MAX_GROUP,
    commitTogether: async (group) => {
      const results = await this.enqueueGroup(group.map(({ request }) => request));
      group.forEach(({ resolve }, i) => resolve(results[i]!));
    },
    commitAlone: async (message) => (await this.enqueueGroup([message]))[0]!,
  });

  constructor(options: SqsIntakeQueueOptions) {
    this.options = options;
    this.documents = new SourceDocumentArchive(options.db);
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
  }

  onEnqueued(listener: () => void): () => void {
    this.enqueueListeners.add(listener);
    return () => this.enqueueListeners.delete(listener);
  }

  async enqueue(message: NewIntakeMessage): Promise<Enqueued> {
    return this.enqueues.submit(message);
  }

  /**
   * Sends a group in SendMessageBatch calls of up to ten, all at once, with one statement
   * each to archive the documents, look up the ids sent before and record the new ones.
   * A failure anywhere throws, and each message is then sent on its own: doing again what
   * was done is harmless (the archive and the record ignore what they hold, and SQS drops a
   * deduplication id it saw within five minutes).
   */
  private async enqueueGroup(messages: readonly NewIntakeMessage[]): Promise<Enqueued[]> {
    // The documents first: a worker may receive a message the moment it is sent.
    const kept = await this.documents.keepAll(messages.map((m) => m.document));
    const ids = messages.map((m) => m.deduplicationId);
    const sentBefore = await this.sentBefore(ids);
    // One send per deduplication id not sent before: the first message of the group with it.
    const firsts = messages.map((m, i) => ids.indexOf(m.deduplicationId) === i);
    const toSend = messages
      .map((message, i) => ({ message, i }))
      .filter(({ message, i }) => firsts[i] && !sentBefore.has(message.deduplicationId));
    const sent = new Map<string, string>();
    const batches = inBatches(toSend);
    // SQS keeps a group's order within a batch and between batches sent one after the other;
    // batches sent at once could arrive in either order, so only when no group has two.
    const keys = new Set(toSend.map(({ message }) => message.orderingKey));
    const answers =
      keys.size === toSend.length
        ? await Promise.all(batches.map((batch) => this.sendBatch(batch, kept)))
        : await inTurn(batches.map((batch) => () => this.sendBatch(batch, kept)));
    for (const { Id, MessageId } of answers.flat()) sent.set(ids[Number(Id)]!, MessageId!);
    // Two instances sending one id at once send once (SQS deduplicates) and record once.
    const { rows } = await this.options.db.query<{ deduplication_id: string }>({
      name: 'sqs-intake-record',
      text: `INSERT INTO intake_sqs_messages (deduplication_id, message_id, ordering_key, kind, document_id)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
             ON CONFLICT (deduplication_id) DO NOTHING
             RETURNING deduplication_id`,
      values: [
        toSend.map(({ message }) => message.deduplicationId),
        toSend.map(({ message }) => sent.get(message.deduplicationId)!),
        toSend.map(({ message }) => message.orderingKey),
        toSend.map(({ message }) => message.kind),
        toSend.map(({ i }) => kept[i]!.documentId),
      ],
    });
    const recorded = new Set(rows.map((r) => r.deduplication_id));
    const recordedByOthers = await this.sentBefore(ids.filter((id) => sent.has(id) && !recorded.has(id)));
    if (recorded.size > 0) for (const listener of this.enqueueListeners) listener();
    return messages.map((message, i) => {
      const id = message.deduplicationId;
      const enqueued = firsts[i]! && recorded.has(id);
      const messageId = sentBefore.get(id) ?? recordedByOthers.get(id) ?? sent.get(id)!;
      return { enqueued, messageId, documentId: kept[i]!.documentId };
    });
  }

  /** One SendMessageBatch; throws unless SQS took every message of it. */
  private async sendBatch(
    batch: readonly { message: NewIntakeMessage; i: number }[],
    kept: readonly { documentId: string }[],
  ) {
    const { Successful = [], Failed = [] } = await this.options.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: this.options.queueUrl,
        Entries: batch.map(({ message, i }) => ({
          Id: String(i),
          MessageBody: JSON.stringify({
            deduplicationId: message.deduplicationId,
            orderingKey: message.orderingKey,
            kind: message.kind,
            documentId: kept[i]!.documentId,
          } satisfies Body),
          MessageGroupId: sqsId(message.orderingKey),
          MessageDeduplicationId: sqsId(message.deduplicationId),
        })),
      }),
    );
    if (Failed.length > 0) throw new Error(`SQS refused ${Failed.length} of ${batch.length}: ${Failed[0]!.Message}`);
    return Successful;
  }

  async receive({
    max,
    visibilityTimeoutMs,
    waitMs = 0,
    signal,
  }: {
    max: number;
    visibilityTimeoutMs: number;
    waitMs?: number;
    signal?: AbortSignal;
  }): Promise<ReceivedMessage[]> {
    const received: ReceivedMessage[] = [];
    while (received.length < max) {
      const asked = Math.min(SQS_BATCH, max - received.length);
      const { Messages = [] } = await this.options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.options.queueUrl,
          MaxNumberOfMessages: asked,
          VisibilityTimeout: seconds(visibilityTimeoutMs),
          // Long polling for the first message only: then take what is there.
          WaitTimeSeconds: received.length === 0 ? Math.min(MAX_WAIT_SECONDS, Math.floor(waitMs / 1000)) : 0,
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        }),
        { ...(signal && { abortSignal: signal }) },
      );
      received.push(...Messages.map(receivedOf));
      if (Messages.length < asked) break;
    }
    return received;
  }

  async ack(message: ReceivedMessage): Promise<boolean> {
    return (await this.ackAll([message])) === 1;
  }

  async ackAll(messages: readonly ReceivedMessage[]): Promise<number> {
    let acked = 0;
    for (const batch of inBatches(messages)) {
      const current = await this.stillHeld(batch);
      if (current.length === 0) continue;
      const { Successful = [] } = await this.options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: current.map((m, n) => ({ Id: String(n), ReceiptHandle: m.receipt })),
        }),
      );
      acked += Successful.length;
    }
    return acked;
  }

  async fail(message: ReceivedMessage, reason: string, { permanent = false } = {}): Promise<'retry' | 'dead'> {
    const decision = retryDecision(this.retry, message.attempt, permanent);
    if (decision.outcome === 'retry') {
      // Hidden for the backoff; its message group waits behind it, as FIFO groups do.
      await this.changeVisibility(message, seconds(decision.backoffMs));
      return 'retry';
    }
    // Kept hidden while it is written down, so nobody else takes it meanwhile; a stale
    // receipt gets no further. Written down before it is deleted: a crash between the two
    // leaves a dead letter whose message comes back, never a message lost.
    if (!(await this.changeVisibility(message, MAX_VISIBILITY_SECONDS))) return 'dead';
    await this.recordDead(message, { attempts: message.attempt, reason });
    await this.options.sqs.send(
      new DeleteMessageCommand({ QueueUrl: this.options.queueUrl, ReceiptHandle: message.receipt }),
    );
    return 'dead';
  }

  async deadLetters({ limit = 100 }: { limit?: number } = {}): Promise<DeadLetter[]> {
    await this.takeInRedriven();
    const { rows } = await this.options.db.query<{
      message_id: string;
      deduplication_id: string;
      ordering_key: string;
      kind: string;
      document_id: string;
      attempts: number;
      reason: string;
      enqueued_at: Date;
      dead_at: Date;
    }>(
      `SELECT message_id, deduplication_id, ordering_key, kind, document_id, attempts, reason, enqueued_at, dead_at
       FROM intake_sqs_messages WHERE dead_at IS NOT NULL ORDER BY dead_at DESC, message_id DESC LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      messageId: r.message_id,
      deduplicationId: r.deduplication_id,
      orderingKey: r.ordering_key,
      kind: r.kind,
      documentId: r.document_id,
      attempts: r.attempts,
      reason: r.reason,
      enqueuedAt: r.enqueued_at,
      failedAt: r.dead_at,
    }));
  }

  async retryDeadLetter(messageId: string): Promise<boolean> {
    const { rows } = await this.options.db.query<Body>(
      `SELECT deduplication_id AS "deduplicationId", ordering_key AS "orderingKey", kind, document_id AS "documentId"
       FROM intake_sqs_messages WHERE message_id = $1 AND dead_at IS NOT NULL`,
      [messageId],
    );
    const dead = rows[0];
    if (!dead) return false;
    // Sent before it stops being a dead letter: a crash between leaves it both queued and
    // listed, never neither. A deduplication id of its own, or SQS would drop it as a
    // duplicate of the first within five minutes.
    const { MessageId } = await this.options.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.options.queueUrl,
        MessageBody: JSON.stringify(dead),
        MessageGroupId: sqsId(dead.orderingKey),
        MessageDeduplicationId: sqsId(`${dead.deduplicationId}#retry:${messageId}`),
      }),
    );
    const { rowCount } = await this.options.db.query(
      `UPDATE intake_sqs_messages SET dead_at = NULL, attempts = NULL, reason = NULL, message_id = $2
       WHERE message_id = $1 AND dead_at IS NOT NULL`,
      [messageId, MessageId],
    );
    return rowCount === 1;
  }

  async depth(): Promise<number> {
    const { Attributes = {} } = await this.options.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.options.queueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    return Object.values(Attributes).reduce((sum, n) => sum + Number(n ?? 0), 0);
  }

  async forgetProcessed(before: Date, { batch = 10_000 }: { batch?: number } = {}): Promise<number> {
    return deleteInBatches(
      this.options.db,
      // Through the index on enqueued_at (migration 0030), by row address, as the PostgreSQL queue does.
      `DELETE FROM intake_sqs_messages WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM intake_sqs_messages WHERE enqueued_at < $1 AND dead_at IS NULL LIMIT $2
       ))`,
      [before],
      batch,
    );
  }

  /** The SQS message ids of those of these deduplication ids sent before. */
  private async sentBefore(deduplicationIds: readonly string[]): Promise<Map<string, string>> {
    if (deduplicationIds.length === 0) return new Map();
    const { rows } = await this.options.db.query<{ deduplication_id: string; message_id: string }>({
      name: 'sqs-intake-sent-before',
      text: 'SELECT deduplication_id, message_id FROM intake_sqs_messages WHERE deduplication_id = ANY($1::text[])',
      values: [deduplicationIds],
    });
    return new Map(rows.map((r) => [r.deduplication_id, r.message_id]));
  }

  /** The messages whose receipts are still current, kept hidden a little longer to be deleted. */
  private async stillHeld(messages: readonly ReceivedMessage[]): Promise<ReceivedMessage[]> {
    const { Successful = [] } = await this.options.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: this.options.queueUrl,
        Entries: messages.map((m, n) => ({ Id: String(n), ReceiptHandle: m.receipt, VisibilityTimeout: 30 })),
      }),
    );
    return Successful.map((s) => messages[Number(s.Id)]!);
  }

  /** False when the receipt is no longer current (the message was received again, or deleted). */
  private async changeVisibility(message: ReceivedMessage, visibilitySeconds: number): Promise<boolean> {
    try {
      await this.options.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.options.queueUrl,
          ReceiptHandle: message.receipt,
          VisibilityTimeout: visibilitySeconds,
        }),
      );
      return true;
    } catch (error) {
      if (isStaleReceipt(error)) return false;
      throw error;
    }
  }

  private async recordDead(
    message: IntakeMessageInput & { messageId: string },
    dead: { attempts: number; reason: string },
  ) {
    await this.options.db.query(
      `INSERT INTO intake_sqs_messages (deduplication_id, message_id, ordering_key, kind, document_id, dead_at, attempts, reason)
       VALUES ($1, $2, $3, $4, $5, now(), $6, $7)
       ON CONFLICT (deduplication_id) DO UPDATE
       SET message_id = excluded.message_id, dead_at = now(), attempts = excluded.attempts, reason = excluded.reason`,
      [
        message.deduplicationId,
        message.messageId,
        message.orderingKey,
        message.kind,
        message.documentId,
        dead.attempts,
        dead.reason,
      ],
    );
  }

  /** Moves what SQS's redrive policy put in the dead-letter queue into the dead letters listed here. */
  private async takeInRedriven(): Promise<void> {
    const queueUrl = this.options.deadLetterQueueUrl;
    if (!queueUrl) return;
    for (;;) {
      const { Messages = [] } = await this.options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: SQS_BATCH,
          VisibilityTimeout: 60,
          MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        }),
      );
      if (Messages.length === 0) return;
      for (const raw of Messages) {
        const message = receivedOf(raw);
        await this.recordDead(message, {
          attempts: message.attempt,
          reason: 'received too often without an answer (moved by the SQS redrive policy)',
        });
        await this.options.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: raw.ReceiptHandle }));
      }
    }
  }
}

function receivedOf(message: Message): ReceivedMessage {
  const body = JSON.parse(message.Body ?? '{}') as Body;
  return {
    messageId: message.MessageId!,
    deduplicationId: body.deduplicationId,
    orderingKey: body.orderingKey,
    kind: body.kind,
    documentId: body.documentId,
    receipt: message.ReceiptHandle!,
    attempt: Number(message.Attributes?.ApproximateReceiveCount ?? 1),
    enqueuedAt: new Date(Number(message.Attributes?.SentTimestamp ?? Date.now())),
  };
}

/** SQS counts visibility in whole seconds: never shorter than asked. */
function seconds(ms: number): number {
  return Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(ms / 1000));
}

/**
 * A group or deduplication id as SQS takes it (up to 128 printable ASCII characters): as it
 * is when it fits, else its SHA-256 (a Play purchase token can be longer).
 */
function sqsId(id: string): string {
  return /^[\x21-\x7e]{1,128}$/.test(id) ? id : createHash('sha256').update(id).digest('hex');
}

function isStaleReceipt(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? '';
  return ['MessageNotInflight', 'ReceiptHandleIsInvalid', 'InvalidParameterValue'].includes(name);
}

/** The items in SQS batches (of ten), in order. */
function inBatches<T>(items: readonly T[]): T[][] {
  return Array.from({ length: Math.ceil(items.length / SQS_BATCH) }, (_, b) =>
    items.slice(b * SQS_BATCH, (b + 1) * SQS_BATCH),
  );
}

/** Runs the tasks one after the other, in order. */
async function inTurn<T>(tasks: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = [];
  for (const task of tasks) results.push(await task());
  return results;
}
