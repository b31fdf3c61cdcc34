import { whenOurTurn } from '../../db/advisory-lock.ts';
import { PeriodicJob } from '../../jobs/periodic-job.ts';
import type { Pool } from '../../db/pool.ts';
import type { App } from '../../domain/catalog.ts';
import { PurchaseRuleViolation } from '../../domain/purchase/decider.ts';
import type { Environment } from '../../domain/purchase/purchase-key.ts';
import type { EventStore, SourceReference } from '../../eventstore/event-store.ts';
import type { SourceDocumentArchive } from '../../eventstore/source-documents.ts';
import type { Logger } from '../../observability/logger.ts';
import { recordPurchase } from '../record-purchase.ts';
import { PlayDeveloperApiError } from './play-api-errors.ts';
import type { PlayDeveloperApi, VoidedPurchase } from './play-developer-api.ts';
import { MalformedPlayDocument, parseVoidedPurchase } from './play-payloads.ts';
import { translatePlayVoided } from './translate-voided.ts';

export const GOOGLE_VOIDED_LIST_KIND = 'google.voidedpurchases.list';

const MINUTE = 60_000;
/** Google lists 30 days back and refuses an older start; a few minutes' margin for clocks and the request's way there. */
const LOOKBACK_MS = 30 * 24 * 60 * MINUTE - 5 * MINUTE;
const LOCK_NAME = 'subledger.google-voided-poll';

export interface VoidedPollOptions {
  readonly pool: Pool;
  readonly api: PlayDeveloperApi;
  /** Every app with a `playStore.packageName` is polled. */
  readonly apps: readonly App[];
  readonly eventStore: EventStore;
  readonly documents: SourceDocumentArchive;
  /** The environment of the purchase stream holding a token, if Subledger has one. */
  readonly environmentOf: (purchaseToken: string) => Promise<Environment | undefined>;
  readonly logger: Logger;
  readonly intervalMs: number;
  /**
   * How far before the last poll the next one starts. Google filters on when its systems
   * saw the purchase as voided, by its clock, and may list one late; recording is
   * idempotent, so listing a refund twice costs nothing. Default 1 hour.
   */
  readonly overlapMs?: number;
}

export interface VoidedPollReport {
  /** Packages Google answered for: their marks moved. */
  readonly packages: number;
  /** Voided purchases Google listed. */
  readonly voided: number;
  /** Of those, the ones that recorded something new (the others were recorded already). */
  readonly recorded: number;
  /** Of those, the ones skipped because they cannot be recorded (logged; the listing is archived). */
  readonly malformed: number;
  /** Packages Google did not answer for: asked again next time, from the same mark. */
  readonly failed: number;
}

type Outcome = 'recorded' | 'known' | 'malformed';

/**
 * Google does not notify every refund, chargeback or revocation: this lists them with
 * voidedpurchases.list for every Play app, since a high-water mark kept per package
 * (`google_voided_polls`), and records each on the purchase keyed by its token, as a
 * voidedPurchaseNotification would. The mark moves only once a package's listing is
 * recorded, so a failure means the next poll lists the same window again.
 */
export class VoidedPurchasesPoll {
  private readonly job: PeriodicJob;
  private readonly packageNames: readonly string[];

  private readonly options: VoidedPollOptions;

  constructor(options: VoidedPollOptions) {
    this.options = options;
    this.packageNames = [...new Set(options.apps.flatMap((app) => app.playStore?.packageName ?? []))];
    this.job = new PeriodicJob('voided purchases poll', options.intervalMs, () => this.pollOnce(), options.logger);
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One pass over every package. Instances sharing a database take turns: the one that waits reports nothing. */
  async pollOnce(): Promise<VoidedPollReport> {
    const report = { packages: 0, voided: 0, recorded: 0, malformed: 0, failed: 0 };
    await whenOurTurn(this.options.pool, LOCK_NAME, async () => {
      for (const packageName of this.packageNames) {
        const outcomes = await this.pollPackage(packageName);
        if (!outcomes) {
          report.failed += 1;
          continue;
        }
        report.packages += 1;
        report.voided += outcomes.length;
        report.recorded += outcomes.filter((outcome) => outcome === 'recorded').length;
        report.malformed += outcomes.filter((outcome) => outcome === 'malformed').length;
      }
    });
    return report;
  }

  /** The outcome of each voided purchase listed, or undefined when Google did not answer. */
  private async pollPackage(packageName: string): Promise<Outcome[] | undefined> {
    const { api, documents, logger } = this.options;
    // Our clock before asking: what Google voids while it answers is listed again next time.
    const asOf = new Date();
    const startTime = await this.startTime(packageName, asOf);
    let listed: VoidedPurchase[];
    try {
      // No endTime: Google refuses one later than its own clock.
      listed = await api.listVoidedPurchases(packageName, { startTime });
    } catch (error) {
      if (!(error instanceof PlayDeveloperApiError)) throw error;
      const context = { err: error, packageName, since: startTime.toISOString() };
      if (error.retryable) logger.warn(context, 'Google did not list voided purchases; asking again at the next poll');
      else logger.error(context, 'Google refused to list voided purchases; asking again at the next poll');
      return undefined;
    }
    const outcomes: Outcome[] = [];
    if (listed.length > 0) {
      // All pages as one answer: the client follows Google's pages itself.
      const body = JSON.stringify({ voidedPurchases: listed });
      const source = await documents.keep({ kind: GOOGLE_VOIDED_LIST_KIND, contentType: 'application/json', body });
      for (const entry of listed) outcomes.push(await this.record(packageName, entry, source));
    }
    await this.options.pool.query(
      `INSERT INTO google_voided_polls (package_name, polled_until) VALUES ($1, $2)
       ON CONFLICT (package_name) DO UPDATE
         SET polled_until = greatest(google_voided_polls.polled_until, excluded.polled_until), updated_at = now()`,
      [packageName, asOf],
    );
    return outcomes;
  }

  private async startTime(packageName: string, asOf: Date): Promise<Date> {
    const { rows } = await this.options.pool.query<{ polled_until: Date }>(
      `SELECT polled_until FROM google_voided_polls WHERE package_name = $1`,
      [packageName],
    );
    const oldest = asOf.getTime() - LOOKBACK_MS;
    const polledUntil = rows[0]?.polled_until.getTime();
    const overlapMs = this.options.overlapMs ?? 60 * MINUTE;
    return new Date(polledUntil === undefined ? oldest : Math.max(oldest, polledUntil - overlapMs));
  }

  /** A malformed entry is skipped, not retried: Google would list it the same way again. */
  private async record(packageName: string, entry: VoidedPurchase, source: SourceReference): Promise<Outcome> {
    try {
      const voidedPurchase = parseVoidedPurchase(entry);
      const environment = (await this.options.environmentOf(voidedPurchase.purchaseToken)) ?? 'production';
      const { key, facts } = translatePlayVoided({ environment, voidedPurchase });
      const result = await recordPurchase(
        this.options.eventStore,
        key,
        { type: 'RecordStoreFacts', data: { facts } },
        { causationId: source.documentId, metadata: { source } },
      );
      return result.outcome === 'appended' ? 'recorded' : 'known';
    } catch (error) {
      if (!(error instanceof MalformedPlayDocument || error instanceof PurchaseRuleViolation)) throw error;
      this.options.logger.error(
        { err: error, packageName, orderId: entry.orderId, documentId: source.documentId },
        'a voided purchase Google listed cannot be recorded; skipped',
      );
      return 'malformed';
    }
  }
}
