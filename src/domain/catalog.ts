import type { RestorePolicy } from './purchase/decider.ts';
import type { Store } from './purchase/purchase-key.ts';

/**
 * What an operator sells: apps, their products in each store, and the
 * entitlements (features) those products unlock. Loaded from a file at start
 * (src/config/catalog-file.ts); the domain only reads it.
 */
export interface Catalog {
  readonly apps: readonly App[];
  readonly products: readonly Product[];
  readonly entitlements: readonly EntitlementDefinition[];
}

export interface App {
  readonly id: string;
  readonly name: string;
  readonly appStore?: { readonly bundleId: string; readonly appAppleId?: number };
  readonly playStore?: { readonly packageName: string };
  /**
   * A purchase restored on another account of this app: `transfer` moves it to the new
   * account (the default, as the stores let one Apple ID or Google account restore
   * anywhere); `keep` leaves it with its owner and refuses the restore.
   */
  readonly restoreBehavior?: RestorePolicy;
}

export type ProductType = 'auto_renewable' | 'non_renewing' | 'non_consumable' | 'consumable';

export interface Product {
  /** Our id for the product, the same in every store. */
  readonly id: string;
  readonly appId: string;
  readonly type: ProductType;
  /** ISO 8601 duration of one period for subscriptions, e.g. P1M. */
  readonly duration?: string;
  /** The product id in each store that sells it. */
  readonly storeProductIds: Partial<Record<Exclude<Store, 'promotional'>, string>>;
  /** Entitlement ids this product unlocks. */
  readonly entitlements: readonly string[];
}

export interface EntitlementDefinition {
  readonly id: string;
  readonly description?: string;
}

/** The catalog product a store sells under `storeProductId`, if the catalog knows it. */
export function productForStoreProduct(catalog: Catalog, store: Store, storeProductId: string): Product | undefined {
  if (store === 'promotional') return catalog.products.find((p) => p.id === storeProductId);
  return catalog.products.find((p) => p.storeProductIds[store] === storeProductId);
}

/**
 * Problems that make a catalog unusable: references to things it does not define,
 * a store product id sold twice. An empty list means the catalog is consistent.
 */
export function catalogProblems(catalog: Catalog): string[] {
  const problems: string[] = [];
  const appIds = new Set(catalog.apps.map((a) => a.id));
  const entitlementIds = new Set(catalog.entitlements.map((e) => e.id));
  problems.push(...duplicates(catalog.apps.map((a) => a.id)).map((id) => `app "${id}" is defined twice`));
  problems.push(...duplicates(catalog.products.map((p) => p.id)).map((id) => `product "${id}" is defined twice`));
  problems.push(
    ...duplicates(catalog.entitlements.map((e) => e.id)).map((id) => `entitlement "${id}" is defined twice`),
  );
  for (const store of ['app_store', 'play_store'] as const) {
    const ids = catalog.products.flatMap((p) => (p.storeProductIds[store] ? [p.storeProductIds[store]] : []));
    problems.push(...duplicates(ids).map((id) => `${store} product id "${id}" belongs to two products`));
  }
  for (const product of catalog.products) {
    if (!appIds.has(product.appId)) problems.push(`product "${product.id}" names unknown app "${product.appId}"`);
    for (const entitlement of product.entitlements) {
      if (!entitlementIds.has(entitlement)) {
        problems.push(`product "${product.id}" unlocks unknown entitlement "${entitlement}"`);
      }
    }
    if (product.type === 'auto_renewable' && !product.duration) {
      problems.push(`subscription product "${product.id}" has no duration`);
    }
  }
  return problems;
}

function duplicates(values: readonly string[]): string[] {
  const seen = new Set<string>();
  return [...new Set(values.filter((v) => seen.has(v) || !seen.add(v)))];
}
