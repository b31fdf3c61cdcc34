import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { parseCatalog } from '../../src/config/catalog-file.ts';
import type { PurchaseEvent } from '../../src/domain/purchase/events.ts';
import { purchaseStreamId } from '../../src/domain/purchase/purchase-key.ts';
import { foldPurchase, initialState } from '../../src/domain/purchase/state.ts';
import { silentLogger, type Logger } from '../../src/observability/logger.ts';
import { readModelRow, type ReadModelRow } from '../../src/projections/entitlements/purchases-projection.ts';
import { appleKey, day, fact, LIFETIME, MONTHLY, period, renewed, started } from '../support/purchase-facts.ts';

/**
 * The pure part of the purchases projection: the events of one purchase stream, folded,
 * become its read-model row. (Which streams and events a batch holds, and the fold onto
 * the state stored before, happen in `apply` against PostgreSQL: see
 * purchases-projection.int.spec.ts.)
 */
const catalog = parseCatalog(readFileSync('catalog/sample-fitness.json', 'utf8'));
const key = appleKey('1000000001');
const streamId = purchaseStreamId(key);

/** Given the events of one purchase, in the batches the runner handed over, then this row. */
function given(...batches: PurchaseEvent[][]) {
  const state = batches.reduce((before, batch) => foldPurchase(batch, before), initialState());
  const version = batches.flat().length - 1;
  return {
    thenRow(expected: Partial<ReadModelRow>, logger: Logger = silentLogger): ReadModelRow {
      const row = readModelRow(streamId, key, state, version, { catalog, logger });
      expect(row).toMatchObject(expected);
      return row;
    },
  };
}

const linked = (appUserId: string, via: 'app_account_token' | 'support_transfer', at: number, previous?: string) =>
  fact('PurchaseLinkedToAppUser', at, { appUserId, via, ...(previous && { previousAppUserId: previous }) });

describe('purchases read model rows', () => {
  it('describes the latest period of a subscription and which catalog product it is', () => {
    given([started(period('t1', 0, 30))]).thenRow({
      stream_id: streamId,
      store: 'app_store',
      environment: 'production',
      purchase_id: '1000000001',
      app_user_id: null,
      store_product_id: MONTHLY,
      product_id: 'premium_monthly',
      access_from: day(0),
      access_until: day(30),
      lifetime_access: false,
      will_renew: true,
      stream_version: 0,
      named_app_users: [],
    });
  });

  it('moves to the renewed period and the newest stream version', () => {
    given([started(period('t1', 0, 30))], [renewed(period('t2', 30, 60))]).thenRow({
      access_from: day(30),
      access_until: day(60),
      stream_version: 1,
    });
  });

  it('keeps a lifetime purchase as access without end', () => {
    const lifetime = period('t1', 0, undefined, { productId: LIFETIME });
    given([fact('OneTimeProductPurchased', 0, { transaction: lifetime })]).thenRow({
      product_id: 'premium_lifetime',
      access_from: day(0),
      access_until: null,
      lifetime_access: true,
      will_renew: false,
    });
  });

  it('keeps the merged state, not a status: the same row whatever the batches', () => {
    const events = [started(period('t1', 0, 30)), renewed(period('t2', 30, 60)), fact('AutoRenewTurnedOff', 40, {})];
    const atOnce = given(events).thenRow({ will_renew: false });
    expect(atOnce.state).toEqual(foldPurchase(events));
    expect(given(events.slice(0, 1), events.slice(1)).thenRow({})).toEqual(atOnce);
  });

  it('is found by its owner, and names every app user who ever claimed it', () => {
    given([
      started(period('t1', 0, 30)),
      linked('alice', 'app_account_token', 0),
      fact('PurchaseClaimRefused', 2, { appUserId: 'bob', ownerAppUserId: 'alice' }),
    ]).thenRow({ app_user_id: 'alice', named_app_users: ['alice', 'bob'] });
    given(
      [started(period('t1', 0, 30)), linked('alice', 'app_account_token', 0)],
      [linked('bob', 'support_transfer', 5, 'alice')],
    ).thenRow({ app_user_id: 'bob', named_app_users: ['alice', 'bob'] });
  });

  it('keeps a purchase of a product the catalog does not know, without a product, and warns once', () => {
    const unknown = period('t1', 0, 30, { productId: 'com.example.pulse.retired' });
    const warn = vi.fn();
    const logger = { warn } as unknown as Logger;
    const state = foldPurchase([started(unknown)]);
    const warnedProducts = new Set<string>();
    for (let i = 0; i < 2; i++) {
      expect(readModelRow(streamId, key, state, 0, { catalog, logger, warnedProducts })).toMatchObject({
        store_product_id: 'com.example.pulse.retired',
        product_id: null,
        access_until: day(30),
      });
    }
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
