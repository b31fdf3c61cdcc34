import type { Logger } from '../observability/logger.ts';

/**
 * Runs `run` every `intervalMs`, never two at once (a run that outlasts the interval
 * makes the next one skip), logging a failed run; `stop` waits for the run under way.
 * The timer does not keep the process alive.
 */
export class PeriodicJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  private readonly name: string;
  private readonly intervalMs: number;
  private readonly run: () => Promise<unknown>;
  private readonly logger: Logger;

  constructor(name: string, intervalMs: number, run: () => Promise<unknown>, logger: Logger) {
    this.name = name;
    this.intervalMs = intervalMs;
    this.run = run;
    this.logger = logger;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.run()
        .catch((err) => this.logger.error({ err }, `${this.name} failed`))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
