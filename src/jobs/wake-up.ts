/**
 * What a polling loop sleeps on between turns: a wait that a nudge cuts short. A nudge that
 * comes while the loop is busy is kept, so its next wait ends at once instead of missing
 * what the nudge was about until the next poll.
 */
export class WakeUp {
  private nudged = false;
  private wake: (() => void) | undefined;

  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  /** Waits `ms`, or less when nudged; not at all when nudged since the last wait. */
  wait(ms: number): Promise<void> {
    if (this.nudged) {
      this.nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.nudged = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
