import type { Pool } from '../db/pool.ts';
import { withTransaction } from '../db/transaction.ts';

/** What became of one delivery attempt, as it is written. */
export interface RecordedOutcome {
  readonly id: string;
  /** The lease the attempt was made under: a delivery taken again since is not overwritten. */
  readonly leaseUntil: Date;
  readonly status: 'pending' | 'delivered' | 'dead';
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly lastLatencyMs: number;
  readonly deliveredAt: Date | null;
}

/**
 * Writes attempts' outcomes in batches: whatever finished while the last batch was being
 * written goes in the next, one statement and one commit for all of them. The commit does
 * not wait for the disk (`synchronous_commit = off`): an outcome lost in a crash only
 * means the delivery is sent again, which at-least-once delivery allows, and a commit per
 * delivery would otherwise be the bound on how many are sent per second.
 */
export class OutcomeRecorder {
  private queued: { outcome: RecordedOutcome; done: (error?: unknown) => void }[] = [];
  private writing: Promise<void> | undefined;
  private readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  /** Resolves once the outcome is committed. */
  record(outcome: RecordedOutcome): Promise<void> {
    const written = new Promise<void>((resolve, reject) =>
      this.queued.push({ outcome, done: (error) => (error ? reject(error) : resolve()) }),
    );
    this.writing ??= this.writeAll().finally(() => (this.writing = undefined));
    return written;
  }

  private async writeAll(): Promise<void> {
    while (this.queued.length > 0) {
      const batch = this.queued;
      this.queued = [];
      try {
        await this.write(batch.map((b) => b.outcome));
        for (const { done } of batch) done();
      } catch (error) {
        for (const { done } of batch) done(error);
      }
    }
  }

  private async write(outcomes: readonly RecordedOutcome[]): Promise<void> {
    await withTransaction(this.pool, async (tx) => {
      await tx.query('SET LOCAL synchronous_commit = off');
      await tx.query(
        `UPDATE webhook_deliveries d
         SET status = o.status, attempts = o.attempts, lease_until = NULL, next_attempt_at = o.next_attempt_at,
             last_status = o.last_status, last_error = o.last_error, last_latency_ms = o.last_latency_ms,
             delivered_at = o.delivered_at
         FROM jsonb_to_recordset($1::jsonb) AS o(id bigint, lease_until timestamptz, status text, attempts int,
           next_attempt_at timestamptz, last_status int, last_error text, last_latency_ms int, delivered_at timestamptz)
         WHERE d.id = o.id AND d.lease_until = o.lease_until`,
        [
          JSON.stringify(
            outcomes.map((o) => ({
              id: o.id,
              lease_until: o.leaseUntil,
              status: o.status,
              attempts: o.attempts,
              next_attempt_at: o.nextAttemptAt,
              last_status: o.lastStatus,
              last_error: o.lastError,
              last_latency_ms: o.lastLatencyMs,
              delivered_at: o.deliveredAt,
            })),
          ),
        ],
      );
    });
  }
}
