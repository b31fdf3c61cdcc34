/** One caller's request in a group, and how to answer that caller. */
export interface Pending<Request, Result> {
  readonly request: Request;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

export interface GroupCommitOptions<Request, Result> {
  /** Requests committed together at most. */
  readonly maxGroup: number;
  /**
   * Commits a group in one transaction, answering each of its callers. Throwing means
   * nothing of the group was written: each request is then committed on its own, so the
   * one that broke the transaction fails alone.
   */
  readonly commitTogether: (group: readonly Pending<Request, Result>[]) => Promise<void>;
  /** Commits one request in a transaction of its own. */
  readonly commitAlone: (request: Request) => Promise<Result>;
  /** Called after each group, e.g. to wake whoever reads what it wrote. */
  readonly afterCommit?: () => void;
}

/**
 * Group commit: requests that arrive while a commit is in flight wait for it, then go
 * together, in one round trip and one transaction, so one WAL flush makes all of them
 * durable. Each keeps its own outcome. A lone caller finds nothing in flight and goes
 * at once, alone, with no added wait: the grouping costs nothing when there is no load.
 */
export class GroupCommit<Request, Result> {
  private readonly queue: Pending<Request, Result>[] = [];
  private committing = false;

  private readonly options: GroupCommitOptions<Request, Result>;

  constructor(options: GroupCommitOptions<Request, Result>) {
    this.options = options;
  }

  /** Resolves once the request is committed (with the requests that went with it). */
  submit(request: Request): Promise<Result> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      void this.commitQueued();
    });
  }

  private async commitQueued(): Promise<void> {
    if (this.committing) return;
    this.committing = true;
    try {
      while (this.queue.length > 0) {
        const group = this.queue.splice(0, this.options.maxGroup);
        if (group.length === 1) await this.alone(group[0]!);
        else await this.together(group);
        this.options.afterCommit?.();
      }
    } finally {
      this.committing = false;
    }
  }

  private async together(group: Pending<Request, Result>[]): Promise<void> {
    try {
      await this.options.commitTogether(group);
    } catch {
      // Nothing of the group was written. In the order they arrived, each on its own.
      for (const pending of group) await this.alone(pending);
    }
  }

  private async alone(pending: Pending<Request, Result>): Promise<void> {
    try {
      pending.resolve(await this.options.commitAlone(pending.request));
    } catch (error) {
      pending.reject(error);
    }
  }
}
