/**
 * The intake queue port: where verified store notifications wait to be processed.
 * PostgreSQL (postgres-intake-queue.ts, the default) or SQS (sqs-intake-queue.ts). Shaped like SQS FIFO:
 * at-least-once delivery, visibility timeout, deduplication id, ordering key.
 */
import type { SourceDocument } from '../eventstore/source-documents.ts';

export interface IntakeMessageInput {
  /** Same id, same message: a second enqueue is a no-op (e.g. `apple:<notificationUUID>`). */
  readonly deduplicationId: string;
  /** Messages sharing a key are handed out one at a time, oldest first (e.g. one subscription). */
  readonly orderingKey: string;
  /** What the document is, e.g. `apple.notification.v2`; picks the handler. */
  readonly kind: string;
  /** The verbatim document, kept in the source document archive. */
  readonly documentId: string;
}

/** A message to enqueue, with its document: both are durable once `enqueue` resolves. */
export interface NewIntakeMessage extends Omit<IntakeMessageInput, 'documentId'> {
  readonly document: SourceDocument;
}

export interface ReceivedMessage extends IntakeMessageInput {
  readonly messageId: string;
  /** Proves this delivery; acking with an expired receipt does nothing. */
  readonly receipt: string;
  /** 1 on the first delivery. */
  readonly attempt: number;
  readonly enqueuedAt: Date;
}

export interface DeadLetter extends IntakeMessageInput {
  readonly messageId: string;
  readonly attempts: number;
  readonly reason: string;
  readonly enqueuedAt: Date;
  readonly failedAt: Date;
}

/** How often, and how far apart, a failing message is delivered again. */
export interface RetryPolicy {
  /** Deliveries before a message becomes a dead letter. */
  readonly maxAttempts: number;
  /** Wait before the second delivery; doubles each time, up to `maxBackoffMs`. */
  readonly firstBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 8, firstBackoffMs: 1_000, maxBackoffMs: 600_000 };

/**
 * What becomes of a message whose delivery number `attempt` (1 on the first) failed:
 * a dead letter once it has been tried `maxAttempts` times (or at once when `permanent`),
 * else delivered again after `backoffMs`.
 */
export function retryDecision(
  policy: RetryPolicy,
  attempt: number,
  permanent = false,
): { readonly outcome: 'dead' } | { readonly outcome: 'retry'; readonly backoffMs: number } {
  if (permanent || attempt >= policy.maxAttempts) return { outcome: 'dead' };
  return { outcome: 'retry', backoffMs: Math.min(policy.maxBackoffMs, policy.firstBackoffMs * 2 ** (attempt - 1)) };
}

export interface IntakeQueue {
  /**
   * Keeps the document in the archive and queues the message, atomically. `enqueued:
   * false` when a message with the same deduplication id exists (in any state).
   */
  enqueue(message: NewIntakeMessage): Promise<{ enqueued: boolean; messageId: string; documentId: string }>;
  /**
   * Up to `max` messages, each hidden from other receivers for `visibilityTimeoutMs`. With
   * `waitMs`, a queue that can (SQS's long polling) waits that long for a first message when
   * none is there; the others answer at once. `signal` cuts a wait short.
   */
  receive(options: {
    max: number;
    visibilityTimeoutMs: number;
    waitMs?: number;
    signal?: AbortSignal;
  }): Promise<ReceivedMessage[]>;
  /** Calls `listener` after each new message this instance enqueues (to wake a worker in this process). Returns an unsubscribe. */
  onEnqueued(listener: () => void): () => void;
  /** Done: never delivered again. False when the receipt expired (another receiver may have it). */
  ack(message: ReceivedMessage): Promise<boolean>;
  /** `ack` for a batch at once (one round trip); returns how many were still theirs to ack. */
  ackAll(messages: readonly ReceivedMessage[]): Promise<number>;
  /**
   * Failed: delivered again after a backoff, or moved to the dead letters with `reason`
   * once it has been tried `maxAttempts` times (or at once when `permanent`).
   */
  fail(message: ReceivedMessage, reason: string, options?: { permanent?: boolean }): Promise<'retry' | 'dead'>;
  deadLetters(options?: { limit?: number }): Promise<DeadLetter[]>;
  /** Puts a dead letter back in the queue for a fresh set of attempts. */
  retryDeadLetter(messageId: string): Promise<boolean>;
  /** Messages waiting or in flight, for metrics and /ready. */
  depth(): Promise<number>;
  /**
   * Forgets the messages queued before `before` that need no remembering, and says how many:
   * processed ones, never dead letters. A store's redelivery of a forgotten one is queued
   * again (and records nothing new). SQS's record of a sent message is forgotten whether or
   * not it was processed: which it was is SQS's to know, and SQS itself drops a message after
   * its retention period (14 days at most); one forgotten early only misses being answered
   * `duplicate`.
   */
  forgetProcessed(before: Date): Promise<number>;
}
