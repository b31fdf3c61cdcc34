import { readFile } from 'node:fs/promises';
import type { Config } from '../../config/config.ts';
import type { Catalog } from '../../domain/catalog.ts';
import { AppleReconciler, type ReconcileDeps } from './reconcile.ts';

/** App Store Server API access, when a key is configured: reconciliation needs it. */
export async function appleReconciler(
  config: Config,
  deps: Omit<ReconcileDeps, 'apps' | 'access'> & { catalog: Catalog },
): Promise<AppleReconciler | undefined> {
  const api = config.apple.serverApi;
  if (!api) {
    deps.logger.info('no App Store Server API key configured: App Store purchases are not reconciled with Apple');
    return undefined;
  }
  return new AppleReconciler({
    ...deps,
    apps: deps.catalog.apps,
    access: {
      signingKey: await readFile(api.keyFile, 'utf8'),
      keyId: api.keyId,
      issuerId: api.issuerId,
      baseUrls: api.urls,
    },
  });
}
