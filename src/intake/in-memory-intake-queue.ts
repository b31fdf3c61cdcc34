import { randomUUID } from 'node:crypto';
import { InMemorySourceDocuments } from '../eventstore/in-memory/in-memory-source-documents.ts';
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

export interface InMemoryIntakeQueueOptions {
  readonly retry?: RetryPolicy;
  /** Visibility timeouts and backoffs run on it: a test moves it on instead of sleeping. */
  readonly clock?: () => Date;
}

interface Message extends IntakeMessageInput {
  readonly id: number;
  state: 'pending' | 'done' | 'dead';
  attempts: number;
  /** Milliseconds since the epoch, like everything timed here. */
  visibleAt: number;
  receipt: string | undefined;
  lastError: string | undefined;
  readonly enqueuedAt: number;
  finishedAt: number | undefined;
}

/**
 * The intake queue in this process's memory, with the PostgreSQL queue's behaviour
 * (the contract suite in test/intake proves both): one message per deduplication id
 * for ever, the messages of an ordering key one at a time and oldest first, a
 * visibility timeout, backoff doubling up to a ceiling, dead letters.
 */
export class InMemoryIntakeQueue implements IntakeQueue {
  /** Where enqueued documents are kept. */
  readonly documents: InMemorySourceDocuments;
  private readonly messages = new Map<string, Message>();
  private readonly byDeduplicationId = new Map<string, Message>();
  /** Pending messages, oldest (lowest id) first. */
  private pending: Message[] = [];
  private readonly enqueueListeners = new Set<() => void>();
  private readonly retry: RetryPolicy;
  private readonly clock: () => Date;
  private lastId = 0;

  constructor(options: InMemoryIntakeQueueOptions = {}) {
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.clock = options.clock ?? (() => new Date());
    this.documents = new InMemorySourceDocuments({ clock: this.clock });
  }

  /** Calls `listener` after each new message (to wake a worker). Returns an unsubscribe. */
  onEnqueued(listener: () => void): () => void {
    this.enqueueListeners.add(listener);
    return () => this.enqueueListeners.delete(listener);
  }

  async enqueue(message: NewIntakeMessage): Promise<{ enqueued: boolean; messageId: string; documentId: string }> {
    const { documentId } = await this.documents.keep(message.document);
    const existing = this.byDeduplicationId.get(message.deduplicationId);
    if (existing) return { enqueued: false, messageId: String(existing.id), documentId };

    const now = this.now();
    const id = ++this.lastId;
    const stored: Message = {
      id,
      deduplicationId: message.deduplicationId,
      orderingKey: message.orderingKey,
      kind: message.kind,
      documentId,
      state: 'pending',
      attempts: 0,
      visibleAt: now,
      receipt: undefined,
      lastError: undefined,
      enqueuedAt: now,
      finishedAt: undefined,
    };
    this.messages.set(String(id), stored);
    this.byDeduplicationId.set(stored.deduplicationId, stored);
    this.pending.push(stored);
    for (const listener of this.enqueueListeners) listener();
    return { enqueued: true, messageId: String(id), documentId };
  }

  async receive({
    max,
    visibilityTimeoutMs,
  }: {
    max: number;
    visibilityTimeoutMs: number;
  }): Promise<ReceivedMessage[]> {
    const now = this.now();
    const chosen: Message[] = [];
    // Only the oldest pending message of a key may go out, and only once it is visible:
    // while it is in flight or backing off, the rest of its key waits.
    const headsSeen = new Set<string>();
    for (const message of this.pending) {
      if (chosen.length >= max) break;
      if (headsSeen.has(message.orderingKey)) continue;
      headsSeen.add(message.orderingKey);
      if (message.visibleAt <= now) chosen.push(message);
    }
    return chosen.map((message) => {
      message.attempts += 1;
      message.receipt = randomUUID();
      message.visibleAt = now + visibilityTimeoutMs;
      return { ...inputOf(message), receipt: message.receipt, attempt: message.attempts };
    });
  }

  async ack(message: ReceivedMessage): Promise<boolean> {
    const held = this.held(message);
    if (!held) return false;
    this.finish(held, 'done');
    held.lastError = undefined;
    return true;
  }

  async ackAll(messages: readonly ReceivedMessage[]): Promise<number> {
    let acked = 0;
    for (const message of messages) if (await this.ack(message)) acked++;
    return acked;
  }

  async fail(message: ReceivedMessage, reason: string, { permanent = false } = {}): Promise<'retry' | 'dead'> {
    const decision = retryDecision(this.retry, message.attempt, permanent);
    // Like the PostgreSQL queue, the answer says what the policy decides even when the
    // receipt has expired; only the message's current holder changes anything.
    const held = this.held(message);
    if (held) {
      held.lastError = reason;
      if (decision.outcome === 'dead') this.finish(held, 'dead');
      else {
        held.receipt = undefined;
        held.visibleAt = this.now() + decision.backoffMs;
      }
    }
    return decision.outcome;
  }

  async deadLetters({ limit = 100 } = {}): Promise<DeadLetter[]> {
    return [...this.messages.values()]
      .filter((m) => m.state === 'dead')
      .sort((a, b) => b.finishedAt! - a.finishedAt! || b.id - a.id)
      .slice(0, limit)
      .map((m) => ({
        ...inputOf(m),
        attempts: m.attempts,
        reason: m.lastError ?? '',
        failedAt: new Date(m.finishedAt!),
      }));
  }

  async retryDeadLetter(messageId: string): Promise<boolean> {
    const message = this.messages.get(messageId);
    if (message?.state !== 'dead') return false;
    message.state = 'pending';
    message.attempts = 0;
    message.visibleAt = this.now();
    message.finishedAt = undefined;
    this.pending = [...this.pending, message].sort((a, b) => a.id - b.id);
    return true;
  }

  async depth(): Promise<number> {
    return this.pending.length;
  }

  async forgetProcessed(before: Date): Promise<number> {
    const forgotten = [...this.messages.values()].filter((m) => m.state === 'done' && m.enqueuedAt < before.getTime());
    for (const message of forgotten) {
      this.messages.delete(String(message.id));
      this.byDeduplicationId.delete(message.deduplicationId);
    }
    return forgotten.length;
  }

  /** The stored message, if this delivery is still the one holding it. */
  private held(message: ReceivedMessage): Message | undefined {
    const stored = this.messages.get(message.messageId);
    return stored?.state === 'pending' && stored.receipt !== undefined && stored.receipt === message.receipt
      ? stored
      : undefined;
  }

  private finish(message: Message, state: 'done' | 'dead'): void {
    message.state = state;
    message.receipt = undefined;
    message.finishedAt = this.now();
    this.pending = this.pending.filter((m) => m !== message);
  }

  private now(): number {
    return this.clock().getTime();
  }
}

function inputOf(message: Message) {
  return {
    messageId: String(message.id),
    deduplicationId: message.deduplicationId,
    orderingKey: message.orderingKey,
    kind: message.kind,
    documentId: message.documentId,
    enqueuedAt: new Date(message.enqueuedAt),
  };
}
