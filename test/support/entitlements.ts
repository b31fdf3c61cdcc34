import type { Entitlement } from '../../src/domain/entitlements.ts';
import { toTimestamp } from '../../src/domain/time.ts';

/** An active monthly `premium` entitlement from an App Store purchase, with the given fields over it. */
export function anEntitlement(fields: Partial<Entitlement> = {}): Entitlement {
  return {
    id: 'premium',
    active: true,
    expiresAt: toTimestamp(Date.now() + 86_400_000),
    purchasedAt: toTimestamp(Date.now() - 86_400_000),
    currentPeriod: { startsAt: toTimestamp(Date.now() - 86_400_000), endsAt: toTimestamp(Date.now() + 86_400_000) },
    productId: 'premium_monthly',
    storeProductId: 'com.example.pulse.premium.monthly',
    purchase: { store: 'app_store', environment: 'production', purchaseId: '1' },
    willRenew: true,
    periodType: 'normal',
    ownership: 'purchased',
    ...fields,
  };
}
