import type { DatabaseSignals } from '../db/database-signals.ts';
import type { Queryable } from '../db/pool.ts';
import { comparePositions, type GlobalPosition } from '../eventstore/global-position.ts';
import type { Logger } from '../observability/logger.ts';
import { CHECKPOINTS_CHANNEL, parseAnnouncement, readCheckpoint } from './checkpoints.ts';
import { PositionWaiters } from './position-waiters.ts';

export interface ProjectionFollowerOptions {
  readonly projection: string;
  readonly db: Queryable;
  readonly signals: DatabaseSignals;
  readonly logger: Logger;
  /** While someone waits, how often to read the checkpoint, in case an announcement was missed. */
  readonly pollMs?: number;
}

/**
 * A projection that other processes run (an API instance's view of the workers'), followed
 * from here for read-your-writes: the checkpoint announcements `saveCheckpoint` makes at
 * commit, and, only while someone waits, the checkpoint itself on a timer.
 */
export class ProjectionFollower {
  private readonly waiters = new PositionWaiters();
  private unsubscribe: (() => void) | undefined;
  private poll: NodeJS.Timeout | undefined;

  private readonly options: ProjectionFollowerOptions;

  constructor(options: ProjectionFollowerOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    this.unsubscribe = this.options.signals.subscribe(CHECKPOINTS_CHANNEL, (payload) => {
      const announced = parseAnnouncement(payload);
      if (announced?.projection === this.options.projection) this.advanceTo(announced.position);
    });
    this.advanceTo(await readCheckpoint(this.options.db, this.options.projection));
  }

  stop(): void {
    this.unsubscribe?.();
    clearInterval(this.poll);
    this.poll = undefined;
    this.waiters.giveUp();
  }

  /** True once the projection has applied everything up to `position`, false when `timeoutMs` passes first. */
  async waitFor(position: GlobalPosition, timeoutMs: number): Promise<boolean> {
    const reached = this.waiters.waitFor(position, timeoutMs);
    this.poll ??= setInterval(() => void this.look(), this.options.pollMs ?? 250);
    const answer = await reached;
    if (!this.waiters.waiting) {
      clearInterval(this.poll);
      this.poll = undefined;
    }
    return answer;
  }

  private async look(): Promise<void> {
    try {
      this.advanceTo(await readCheckpoint(this.options.db, this.options.projection));
    } catch (err) {
      this.options.logger.debug({ err, projection: this.options.projection }, 'could not read the checkpoint');
    }
  }

  /** Never back: a read that started before an announcement may answer after it. */
  private advanceTo(position: GlobalPosition): void {
    if (comparePositions(position, this.waiters.reached) > 0) this.waiters.advanceTo(position);
  }
}
