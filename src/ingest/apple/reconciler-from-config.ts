import { readFile } from 'node:fs/promises';
import type { Config } from '../../config/config.ts';
import type { Catalog } from '../../domain/catalog.ts';
import { AppleVerifier, loadTrustedRoots } from './apple-verifier.ts';
import { AppleReconciler, type ReconcileDeps } from './reconcile.ts';

/** The verifier of the catalog's apps' signed documents, trusting the configured roots. */
export async function appleVerifier(config: Config, catalog: Catalog): Promise<AppleVerifier> {
  return new AppleVerifier(catalog.apps, {
    trustedRoots: await loadTrustedRoots(config.apple.trustedRoots),
    onlineChecks: config.apple.onlineChecks,
  });
}

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
