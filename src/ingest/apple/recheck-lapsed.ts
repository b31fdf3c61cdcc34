import { whenOurTurn } from '../../db/advisory-lock.ts';
import type { Pool } from '../../db/pool.ts';
import type { Environment, PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import type { Logger } from '../../observability/logger.ts';
import { AppStoreServerApiError } from './app-store-server-api.ts';
import type { AppleReconciler } from './reconcile.ts';
import { AppleRejection } from './apple-verifier.ts';
import { PeriodicJob } from '../../jobs/periodic-job.ts';

export interface RecheckOptions {
  readonly pool: Pool;
  readonly reconciler: AppleReconciler;
  readonly logger: Logger;
  readonly intervalMs: number;
  /** How long after a period ends a renewal notification may still be on its way. */
  readonly graceMs?: number;
  readonly batchSize?: number;
}

interface DueRow {
  stream_id: string;
  environment: Environment;
  purchase_id: string;
  access_until: Date;
}

/**
 * Finds App Store subscriptions whose paid period ended while they were meant to
 * renew, with no renewal recorded, and asks Apple about each once per lapse. A
 * missed DID_RENEW would otherwise cut a paying customer off; a missed EXPIRED is
 * harmless (access ends with the period anyway) but is recorded too.
 */
export class LapsedSubscriptionRecheck {
  private readonly job: PeriodicJob;

  private readonly options: RecheckOptions;

  constructor(options: RecheckOptions) {
    this.options = options;
    this.job = new PeriodicJob(
      'lapsed subscription re-check',
      options.intervalMs,
      () => this.runOnce(),
      options.logger,
    );
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One pass; returns how many subscriptions it asked Apple about. Instances sharing a database take turns. */
  async runOnce(): Promise<{ checked: number; failed: number }> {
    const { pool, graceMs = 10 * 60_000, batchSize = 100 } = this.options;
    const report = await whenOurTurn(pool, 'subledger.apple-recheck', async () => {
      const { rows } = await pool.query<DueRow>(
        `SELECT p.stream_id, p.environment, p.purchase_id, p.access_until
           FROM purchases p LEFT JOIN apple_rechecks r ON r.stream_id = p.stream_id
          WHERE p.store = 'app_store' AND p.will_renew
            AND p.access_until < now() - make_interval(secs => $1)
            AND (r.stream_id IS NULL OR r.access_until < p.access_until)
          ORDER BY p.access_until LIMIT $2`,
        [graceMs / 1000, batchSize],
      );
      let failed = 0;
      for (const row of rows) if (!(await this.recheck(row))) failed += 1;
      return { checked: rows.length, failed };
    });
    return report ?? { checked: 0, failed: 0 };
  }

  private async recheck(row: DueRow): Promise<boolean> {
    const key: PurchaseKey = { store: 'app_store', environment: row.environment, purchaseId: row.purchase_id };
    let outcome: string;
    try {
      const report = await this.options.reconciler.reconcilePurchase(key);
      outcome = report.found ? `ok: ${report.newEvents} new events` : 'error: Apple does not know this transaction';
    } catch (error) {
      this.options.logger.warn({ err: error, purchase: key }, 'could not re-check a lapsed subscription with Apple');
      // Apple down, throttling or unreachable: the next pass asks again. A definite answer
      // (unknown transaction, a document that fails verification) is recorded, not retried forever.
      const definite = error instanceof AppStoreServerApiError ? !error.retryable : error instanceof AppleRejection;
      if (!definite) return false;
      outcome = `error: ${(error as Error).message}`;
    }
    await this.options.pool.query(
      `INSERT INTO apple_rechecks (stream_id, access_until, outcome) VALUES ($1, $2, $3)
       ON CONFLICT (stream_id) DO UPDATE SET access_until = excluded.access_until, outcome = excluded.outcome,
         checked_at = now()`,
      [row.stream_id, row.access_until, outcome],
    );
    return outcome.startsWith('ok');
  }
}
