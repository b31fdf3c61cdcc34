import type { App } from '../../domain/catalog.ts';
import type { PurchaseKey } from '../../domain/purchase/purchase-key.ts';
import type { EventStore } from '../../eventstore/event-store.ts';
import type { SourceDocumentArchive } from '../../eventstore/source-documents.ts';
import type { IntakeQueue } from '../../intake/intake-queue.ts';
import type { Logger } from '../../observability/logger.ts';
import { recordPurchase } from '../record-purchase.ts';
import { acceptAppleNotification } from './accept-notification.ts';
import { AppStoreServerApi, AppStoreServerApiError, type AppStoreServerApiOptions } from './app-store-server-api.ts';
import { translateAppleTransaction } from './translate-notification.ts';
import type { AppleVerifier } from './apple-verifier.ts';

export const APPLE_API_TRANSACTION_KIND = 'apple.api.transaction';
export const APPLE_API_RENEWAL_INFO_KIND = 'apple.api.renewal-info';

/** Credentials of an App Store Connect In-App Purchase key, and where the API is. */
export interface AppStoreServerApiAccess {
  readonly signingKey: string;
  readonly keyId: string;
  readonly issuerId: string;
  readonly baseUrls: Readonly<Record<'Production' | 'Sandbox', string>>;
}

export interface ReconcileDeps {
  readonly apps: readonly App[];
  readonly access: AppStoreServerApiAccess;
  readonly verifier: AppleVerifier;
  readonly documents: SourceDocumentArchive;
  readonly eventStore: EventStore;
  readonly queue: IntakeQueue;
  readonly logger: Logger;
}

export interface ReconcileReport {
  /** False when no App Store app in the catalog knows the transaction. */
  readonly found: boolean;
  /** Signed documents Apple returned and we verified. */
  readonly documents: number;
  /** New events they added to the ledger (0 when we already knew everything). */
  readonly newEvents: number;
}

/**
 * Asks the App Store what it knows, for when a notification was lost: Apple's signed
 * answers are verified, archived and recorded through the same idempotent path as
 * notifications, so reconciling twice, or after the notification did arrive, adds
 * nothing.
 */
export class AppleReconciler {
  private readonly clients = new Map<string, AppStoreServerApi>();

  private readonly deps: ReconcileDeps;

  constructor(deps: ReconcileDeps) {
    this.deps = deps;
  }

  /**
   * One App Store purchase: the latest status of every subscription of the customer
   * who made it, and their transaction history. The purchase key does not say
   * which app it belongs to, so each App Store app in the catalog is asked until one
   * knows the transaction.
   */
  async reconcilePurchase(key: PurchaseKey): Promise<ReconcileReport> {
    if (key.store !== 'app_store') throw new Error(`${key.store} purchases are not reconciled with Apple`);
    const environment = key.environment === 'production' ? 'Production' : 'Sandbox';
    for (const app of this.deps.apps) {
      if (!app.appStore) continue;
      const client = this.clientFor(app.appStore.bundleId, environment);
      try {
        const statuses = await client.subscriptionStatuses(key.purchaseId);
        const history = await client.transactionHistory(key.purchaseId);
        let report: ReconcileReport = { found: true, documents: 0, newEvents: 0 };
        for (const status of statuses) {
          report = add(report, await this.record(status.signedTransactionInfo, status.signedRenewalInfo));
        }
        for (const signedTransaction of history) report = add(report, await this.record(signedTransaction));
        return report;
      } catch (error) {
        if (error instanceof AppStoreServerApiError && error.httpStatus === 404) continue; // another app's
        throw error;
      }
    }
    return { found: false, documents: 0, newEvents: 0 };
  }

  /**
   * The notifications Apple sent, or tried to, in a time window (up to 180 days
   * back), accepted exactly as if they had been posted to the webhook: those we
   * already have are recognised by their notificationUUID.
   */
  async reconcileNotifications(window: { startDate: Date; endDate: Date }, environment: 'Production' | 'Sandbox') {
    let accepted = 0;
    let duplicates = 0;
    for (const app of this.deps.apps) {
      if (!app.appStore) continue;
      const payloads = await this.clientFor(app.appStore.bundleId, environment).notificationHistory(window);
      for (const signedPayload of payloads) {
        const { outcome } = await acceptAppleNotification(this.deps, signedPayload);
        if (outcome === 'accepted') accepted += 1;
        else duplicates += 1;
      }
    }
    return { accepted, duplicates };
  }

  private async record(signedTransaction: string, signedRenewalInfo?: string): Promise<ReconcileReport> {
    const verified = await this.deps.verifier.verifyTransaction(signedTransaction, signedRenewalInfo);
    const source = await this.deps.documents.keep({
      kind: APPLE_API_TRANSACTION_KIND,
      contentType: 'application/jose',
      body: signedTransaction,
    });
    if (signedRenewalInfo) {
      await this.deps.documents.keep({
        kind: APPLE_API_RENEWAL_INFO_KIND,
        contentType: 'application/jose',
        body: signedRenewalInfo,
      });
    }
    const { key, facts } = translateAppleTransaction(verified);
    const result = await recordPurchase(
      this.deps.eventStore,
      key,
      { type: 'RecordStoreFacts', data: { facts } },
      { causationId: source.documentId, metadata: { source: { documentId: source.documentId, kind: source.kind } } },
    );
    const newEvents =
      result.outcome === 'no_change' || result.append.outcome !== 'appended'
        ? 0
        : result.events.length - result.append.alreadyRecorded.length;
    return { found: true, documents: signedRenewalInfo ? 2 : 1, newEvents };
  }

  private clientFor(bundleId: string, environment: 'Production' | 'Sandbox'): AppStoreServerApi {
    const cacheKey = `${bundleId}/${environment}`;
    let client = this.clients.get(cacheKey);
    if (!client) {
      const { signingKey, keyId, issuerId, baseUrls } = this.deps.access;
      const options: AppStoreServerApiOptions = {
        signingKey,
        keyId,
        issuerId,
        bundleId,
        environment,
        baseUrl: baseUrls[environment],
      };
      client = new AppStoreServerApi(options);
      this.clients.set(cacheKey, client);
    }
    return client;
  }
}

const add = (a: ReconcileReport, b: ReconcileReport): ReconcileReport => ({
  found: a.found && b.found,
  documents: a.documents + b.documents,
  newEvents: a.newEvents + b.newEvents,
});
