import { setTimeout as sleep } from 'node:timers/promises';
import type { ArchivedDocument, SourceDocumentArchive } from '../eventstore/source-documents.ts';
import type { IntakeQueue, ReceivedMessage } from '../intake/intake-queue.ts';
import type { Logger } from '../observability/logger.ts';
import { Refusal } from '../domain/refusal.ts';
import { WakeUp } from '../jobs/wake-up.ts';

/** A message that no retry can fix (not what it claims to be, breaks a rule): dead-letter it at once. */
export class PermanentFailure extends Refusal<'unprocessable_document'> {
  constructor(message: string) {
    super('invalid', 'unprocessable_document', message);
  }
}

export type DocumentHandler = (document: ArchivedDocument) => Promise<void>;

export interface IntakeWorkerOptions {
  readonly queue: IntakeQueue;
  readonly documents: SourceDocumentArchive;
  /** By message kind, e.g. `apple.notification.v2`. */
  readonly handlers: Readonly<Record<string, DocumentHandler>>;
  readonly logger: Logger;
  readonly batchSize?: number;
  readonly visibilityTimeoutMs?: number;
  readonly idlePollMs?: number;
}

/**
 * Batches handled at once. The next is received while one is being handled, so the worker
 * is not idle while a batch waits on the database; the queue still hands out a
 * subscription's notifications one at a time, so batches never hold the same one.
 */
const BATCHES_IN_FLIGHT = 2;

/** How long a worker waits after a part batch before it looks again: a few ms of latency, far fewer queries under load. */
const LINGER_MS = 10;

/** How long a receive may wait for a message, on a queue that can wait (SQS's longest). */
const LONG_POLL_MS = 20_000;

/**
 * Processes accepted notifications from the intake queue: at least once, so every
 * handler is idempotent (the event store keeps a fact once). A failure is retried
 * with backoff by the queue; a permanent one goes to the dead letters with its reason.
 */
export class IntakeWorker {
  private running = false;
  private loops: Promise<void>[] = [];
  /** One per loop: a nudge wakes them all. */
  private readonly wakeUps: WakeUp[];
  private stopping = new AbortController();

  private readonly options: IntakeWorkerOptions;

  constructor(options: IntakeWorkerOptions) {
    this.options = options;
    this.wakeUps = Array.from({ length: BATCHES_IN_FLIGHT }, () => new WakeUp());
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    this.loops = this.wakeUps.map((wakeUp) => this.follow(wakeUp));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    this.nudge();
    await Promise.all(this.loops);
  }

  /** Something was enqueued: look now. */
  nudge(): void {
    for (const wakeUp of this.wakeUps) wakeUp.nudge();
  }

  /**
   * Receives and handles one batch; returns how many messages it handled. The batch's
   * documents are read in one query and its successes acknowledged in one, so a
   * notification costs little more than its own append.
   */
  async processBatch({ waitMs = 0 }: { waitMs?: number } = {}): Promise<number> {
    const { queue, documents, batchSize = 50, visibilityTimeoutMs = 60_000 } = this.options;
    const messages = await queue.receive({ max: batchSize, visibilityTimeoutMs, waitMs, signal: this.stopping.signal });
    if (messages.length === 0) return 0;
    const found = await documents.findAll([...new Set(messages.map((m) => m.documentId))]);
    const handled = await Promise.all(messages.map((message) => this.handle(message, found.get(message.documentId))));
    await queue.ackAll(messages.filter((_, i) => handled[i]));
    return messages.length;
  }

  /** True when the message is done; a failure is reported to the queue here. */
  private async handle(message: ReceivedMessage, document: ArchivedDocument | undefined): Promise<boolean> {
    const { queue, handlers, logger } = this.options;
    try {
      const handler = handlers[message.kind];
      if (!handler) throw new PermanentFailure(`No handler for messages of kind ${message.kind}`);
      if (!document) throw new PermanentFailure(`Document ${message.documentId} is missing from the archive`);
      await handler(document);
      return true;
    } catch (error) {
      const permanent = error instanceof PermanentFailure;
      const outcome = await queue.fail(message, (error as Error).message, { permanent });
      logger.warn(
        { err: error, outcome, messageId: message.messageId, deduplicationId: message.deduplicationId },
        outcome === 'dead' ? 'intake message dead-lettered' : 'intake message failed; will retry',
      );
      return false;
    }
  }

  private async follow(wakeUp: WakeUp): Promise<void> {
    const { idlePollMs = 200, logger, batchSize = 50 } = this.options;
    while (this.running) {
      try {
        // A queue that can (SQS) waits for the next message itself rather than being polled.
        const handled = await this.processBatch({ waitMs: LONG_POLL_MS });
        if (handled === 0 && this.running) await wakeUp.wait(idlePollMs);
        // A part batch: let more arrive before the next (LINGER_MS), rather than paying a
        // receive, a read and an acknowledgement for every one or two.
        else if (handled < batchSize / 2 && this.running) await sleep(LINGER_MS);
      } catch (error) {
        if (!this.running) return; // a long poll cut short by stop()
        logger.warn({ err: error }, 'intake worker could not receive; retrying');
        await sleep(idlePollMs * 5);
      }
    }
  }
}
