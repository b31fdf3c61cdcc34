/** Where a purchase was made. `promotional` is for grants made by support staff. */
export type Store = 'app_store' | 'play_store' | 'promotional';
export type Environment = 'production' | 'sandbox';

/**
 * Identifies one store purchase: an auto-renewable subscription (Apple's
 * originalTransactionId, Google's purchase token) or a one-time product.
 * Each is one event stream.
 */
export interface PurchaseKey {
  readonly store: Store;
  readonly environment: Environment;
  readonly purchaseId: string;
}

const STORES: readonly Store[] = ['app_store', 'play_store', 'promotional'];
const ENVIRONMENTS: readonly Environment[] = ['production', 'sandbox'];
export const PURCHASE_STREAM_PREFIX = 'purchase';

export function purchaseStreamId(key: PurchaseKey): string {
  return `${PURCHASE_STREAM_PREFIX}:${key.store}:${key.environment}:${key.purchaseId}`;
}

/** The key of a purchase stream, or undefined for a stream that is not one. */
export function parsePurchaseStreamId(streamId: string): PurchaseKey | undefined {
  const [prefix, store, environment, ...rest] = streamId.split(':');
  const purchaseId = rest.join(':');
  if (prefix !== PURCHASE_STREAM_PREFIX || !purchaseId) return undefined;
  if (!STORES.includes(store as Store) || !ENVIRONMENTS.includes(environment as Environment)) return undefined;
  return { store: store as Store, environment: environment as Environment, purchaseId };
}
