import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import type { Pool } from '../db/pool.ts';
import { withTransaction } from '../db/transaction.ts';
import type { EventStore } from '../eventstore/event-store.ts';
import { comparePositions, type GlobalPosition } from '../eventstore/global-position.ts';
import type { Logger } from '../observability/logger.ts';
import { WakeUp } from '../jobs/wake-up.ts';
import { lockCheckpoint, readCheckpoint, saveCheckpoint } from './checkpoints.ts';
import { PositionWaiters } from './position-waiters.ts';
import type { Projection } from './projection.ts';

/** How soon to look again for committed events an open transaction holds back. */
const HELD_BACK_POLL_MS = 25;
/**
 * How long a runner waits after a part batch before it reads again: a few ms of latency,
 * far fewer transactions. At 100 notifications/s it cut the worker's CPU by a quarter and
 * PostgreSQL's by a fifth (bench:webhook): each batch's fixed cost had dominated them.
 */
const LINGER_MS = 10;

export interface ProjectionRunnerOptions {
  readonly pool: Pool;
  readonly eventStore: EventStore;
  readonly projection: Projection;
  readonly batchSize: number;
  /** How long to wait before looking again when there was nothing new. */
  readonly idlePollMs: number;
  readonly logger: Logger;
  /** Called after each batch this runner commits, e.g. to wake whoever reads what it wrote. */
  readonly onApplied?: () => void;
}

export interface ProjectionRunnerStatus {
  readonly projection: string;
  readonly running: boolean;
  readonly checkpoint: GlobalPosition;
  /** Set while the last attempt failed (database unreachable, say); cleared by the next success. */
  readonly failing?: { readonly since: Date; readonly error: string; readonly attempts: number };
}

/**
 * Follows the global order of events from the projection's checkpoint, in batches.
 * Each batch's read-model writes and its new checkpoint commit together, so a crash
 * never applies an event twice or skips one. Several instances may run the same
 * projection: an advisory lock lets one advance it at a time.
 */
export class ProjectionRunner {
  private running = false;
  private loop: Promise<void> | undefined;
  private stopping = new AbortController();
  private readonly wakeUp = new WakeUp();
  private failing: ProjectionRunnerStatus['failing'];
  /** The checkpoint as this runner last saw it, and who waits for it to move. */
  private readonly waiters = new PositionWaiters();

  private readonly options: ProjectionRunnerOptions;

  constructor(options: ProjectionRunnerOptions) {
    this.options = options;
  }

  get name(): string {
    return this.options.projection.name;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.waiters.advanceTo(await readCheckpoint(this.options.pool, this.name));
    this.stopping = new AbortController();
    this.running = true;
    this.loop = this.follow();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    this.wakeUp.nudge();
    await this.loop;
    this.waiters.giveUp();
  }

  /** Something was appended: look now rather than at the next poll. */
  nudge(): void {
    this.wakeUp.nudge();
  }

  status(): ProjectionRunnerStatus {
    return {
      projection: this.name,
      running: this.running,
      checkpoint: this.waiters.reached,
      ...(this.failing && { failing: this.failing }),
    };
  }

  /**
   * Resolves true once the projection has applied everything up to `position`
   * (read-your-writes after an append), false when `timeoutMs` passes first.
   */
  waitFor(position: GlobalPosition, timeoutMs: number): Promise<boolean> {
    const reached = this.waiters.waitFor(position, timeoutMs);
    this.nudge();
    return reached;
  }

  /**
   * Applies at most one batch. `applied` is 0 when caught up; `busy` says another
   * instance holds the projection right now.
   */
  async processBatch(): Promise<{ applied: number; busy: boolean; heldBack?: boolean }> {
    const { projection, eventStore, pool, batchSize } = this.options;
    // Events are read before the transaction opens: a transaction that waited on another
    // connection (say, for a TRUNCATE or ALTER queued on `events`) while holding locks
    // would be a deadlock PostgreSQL cannot see.
    const from = await readCheckpoint(pool, projection.name);
    const events = await eventStore.readAll({ after: from, limit: batchSize });
    if (events.length === 0) {
      this.waiters.advanceTo(from);
      // Committed events an older, still open transaction holds back (readAll never
      // skips past it): come back for them soon, not at the next idle poll.
      const heldBack = comparePositions(await eventStore.headPosition(), from) > 0;
      return { applied: 0, busy: false, heldBack };
    }
    const outcome = await withTransaction(pool, async (tx) => {
      const locked = await lockCheckpoint(tx, projection.name, { wait: false });
      // Another instance holds the projection, or moved it on since we read: leave it.
      if (!locked || comparePositions(locked, from) !== 0) return { applied: 0, reached: locked };
      await projection.apply(events, tx);
      const reached = events.at(-1)!.position;
      await saveCheckpoint(tx, projection.name, reached);
      return { applied: events.length, reached };
    });
    this.waiters.advanceTo(outcome.reached ?? (await readCheckpoint(pool, projection.name)));
    if (outcome.applied > 0) this.options.onApplied?.();
    return { applied: outcome.applied, busy: outcome.applied === 0 };
  }

  /**
   * Applies batches until nothing is left (taking turns with other instances);
   * returns the number of events this runner applied.
   */
  async catchUp(onBatch?: (applied: number) => void): Promise<number> {
    let total = 0;
    for (;;) {
      const { applied, busy, heldBack } = await this.processBatch();
      if (busy) {
        await sleep(Math.max(10, this.options.idlePollMs));
        continue;
      }
      // Caught up means up to the newest committed event, not to an open transaction.
      if (heldBack) {
        await sleep(HELD_BACK_POLL_MS);
        continue;
      }
      if (applied === 0) return total;
      total += applied;
      onBatch?.(applied);
    }
  }

  private async follow(): Promise<void> {
    const { logger, idlePollMs } = this.options;
    while (this.running) {
      try {
        const { applied, heldBack } = await pRetry(() => this.processBatch(), {
          retries: Number.POSITIVE_INFINITY,
          minTimeout: 100,
          maxTimeout: 10_000,
          signal: this.stopping.signal,
          onFailedAttempt: ({ error, attemptNumber }) => {
            if (!this.running) return;
            this.failing = { since: this.failing?.since ?? new Date(), error: error.message, attempts: attemptNumber };
            logger.warn(
              { err: error, projection: this.name, attempt: attemptNumber },
              'projection batch failed; retrying',
            );
          },
        });
        if (this.failing) logger.info({ projection: this.name }, 'projection recovered');
        this.failing = undefined;
        if (applied === 0) await this.idle(heldBack ? Math.min(HELD_BACK_POLL_MS, idlePollMs) : idlePollMs);
        // A part batch: let more events arrive before the next, rather than paying a
        // transaction and its checkpoint for every few (as the intake worker does).
        else if (applied < this.options.batchSize / 2 && this.running) await sleep(LINGER_MS);
      } catch (error) {
        if (!this.running) return;
        logger.error({ err: error, projection: this.name }, 'projection runner stopped unexpectedly');
        await sleep(idlePollMs);
      }
    }
  }

  private idle(ms: number): Promise<void> {
    return this.running ? this.wakeUp.wait(ms) : Promise.resolve();
  }
}
