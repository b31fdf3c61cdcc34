import { isAtOrAfter, START, type GlobalPosition } from '../eventstore/global-position.ts';

/**
 * Who waits for a projection to reach a position (read your writes), and where it is:
 * each waiter is answered true once the projection gets there, false at its timeout.
 */
export class PositionWaiters {
  private position: GlobalPosition = START;
  private readonly waiters = new Set<{ target: GlobalPosition; answer: (reached: boolean) => void }>();

  /** Where the projection is known to be. */
  get reached(): GlobalPosition {
    return this.position;
  }

  get waiting(): boolean {
    return this.waiters.size > 0;
  }

  /** The projection got to `position`: answers those waiting for it or for less. */
  advanceTo(position: GlobalPosition): void {
    this.position = position;
    for (const waiter of this.waiters) if (isAtOrAfter(position, waiter.target)) waiter.answer(true);
  }

  /** True once the projection is at `target`, false when `timeoutMs` passes first. */
  waitFor(target: GlobalPosition, timeoutMs: number): Promise<boolean> {
    if (isAtOrAfter(this.position, target)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        target,
        answer: (reached: boolean) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => waiter.answer(false), timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Answers everyone false: nobody will move the projection for them any more. */
  giveUp(): void {
    for (const waiter of this.waiters) waiter.answer(false);
  }
}
