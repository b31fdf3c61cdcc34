import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { Pool } from '../../db/pool.ts';
import { productForStoreProduct, type Catalog } from '../../domain/catalog.ts';
import type { Logger } from '../../observability/logger.ts';
import { customerHistory, entitlementsAtMoment, type HistoryEntry } from '../../application/customer-history.ts';
import type { CustomerReconcileDeps } from '../../application/reconcile-customer.ts';
import { adminAccess } from '../authorization.ts';
import type { IdempotencyKeys } from '../idempotency.ts';
import { adminCustomerActionRoutes } from './admin-customer-actions.ts';
import { adminCustomerPurchaseRoutes } from './admin-customer-purchases.ts';
import { entitlementDocument } from '../../application/customer-document.ts';
import { appUserIdParams, entitlementSchema, problems } from '../schemas.ts';

/** What the support use cases need (src/application), and who may call them. */
export interface AdminCustomerRouteDeps extends CustomerReconcileDeps {
  readonly authenticator: Authenticator;
  readonly db: Pool;
  readonly logger: Logger;
  /** Answers of writes sent with an Idempotency-Key. */
  readonly idempotency: IdempotencyKeys;
}

const timestamp = z.iso.datetime({ offset: true }).describe('RFC 3339');
const entitlementView = z
  .object({
    active: z.boolean(),
    expiresAt: z.string().nullable(),
    willRenew: z.boolean(),
    purchaseId: z.string(),
    store: z.string(),
  })
  .nullable();
const actor = z.object({ kind: z.string(), id: z.string(), reason: z.string().optional() }).nullable();
const historyEntry = z.object({
  position: z.string().describe('Global position: the timeline’s order, and the paging cursor'),
  recordedAt: z.string().describe('When Subledger recorded it'),
  storeTime: z.string().nullable().describe('When the store says it happened'),
  purchase: z.object({ store: z.string(), environment: z.string(), purchaseId: z.string() }),
  type: z.string(),
  data: z.unknown(),
  causationId: z.string().nullable(),
  source: z
    .object({ documentId: z.string(), kind: z.string() })
    .nullable()
    .describe('The store’s document in the archive (GET it by id from the CLI or the console)'),
  actor,
  cause: z
    .object({
      id: z.string().describe('The causation id: every fact one notification or action recorded shares it'),
      kind: z.enum(['store_notification', 'store_answer', 'staff', 'app_user', 'unrecorded']),
      type: z.string().nullable().describe('The notification’s type as the store names it, e.g. DID_RENEW'),
      subtype: z.string().nullable(),
      action: z.string().nullable().describe('What staff or an app did: grant, end-grant, transfer, reconcile'),
      actor,
      documentId: z.string().nullable().describe('The document to show for it: GET /v1/admin/documents/{documentId}'),
      summary: z.string().describe('For people: "App Store SUBSCRIBED/INITIAL_BUY", "Grant by sam: apology"'),
    })
    .describe('What recorded it'),
  effects: z.array(
    z.object({ entitlement: z.string(), before: entitlementView, after: entitlementView, summary: z.string() }),
  ),
});
const historyQuery = z.object({
  store: z.enum(['app_store', 'play_store', 'promotional']).optional(),
  productId: z.string().optional().describe('A catalog product id'),
  from: timestamp.optional().describe('Recorded at or after'),
  to: timestamp.optional().describe('Recorded before'),
  cursor: z.string().optional().describe('From the previous page’s nextCursor'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const security = [{ bearer: [] }];

/**
 * What support staff ask about one customer, answered from the event store: their whole
 * history with the effect of each event, and their entitlements at any moment. What
 * they do to a customer is in admin-customer-actions.ts.
 */
export const adminCustomerRoutes: FastifyPluginAsync<AdminCustomerRouteDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  const onRequest = adminAccess(deps.authenticator);

  app.get(
    '/v1/admin/customers/:appUserId/history',
    {
      onRequest,
      schema: {
        description:
          'The customer’s timeline, oldest first: every event of every purchase they were ever linked to, with its effect',
        security,
        params: appUserIdParams,
        querystring: historyQuery,
        response: {
          200: z.object({ appUserId: z.string(), entries: z.array(historyEntry), nextCursor: z.string().nullable() }),
          ...problems(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { appUserId } = request.params;
      const { store, productId, from, to, cursor, limit } = request.query;
      const matches = (entry: HistoryEntry) =>
        (!store || entry.purchase.store === store) &&
        (!productId || productOf(deps.catalog, entry) === productId) &&
        (!from || Date.parse(entry.recordedAt) >= Date.parse(from)) &&
        (!to || Date.parse(entry.recordedAt) < Date.parse(to));
      const all = (await customerHistory(deps, appUserId)).filter(matches);
      const start = cursor ? all.findIndex((entry) => entry.position === cursor) + 1 : 0;
      const page = all.slice(start, start + limit);
      const more = start + limit < all.length;
      return { appUserId, entries: page, nextCursor: more ? page.at(-1)!.position : null };
    },
  );

  app.get(
    '/v1/admin/customers/:appUserId/entitlements',
    {
      onRequest,
      schema: {
        description:
          'The customer’s entitlements at a moment, from the event store: as Subledger knew them then, and as it knows them now about then',
        security,
        params: appUserIdParams,
        querystring: z.object({ at: timestamp }),
        response: {
          200: z.object({
            appUserId: z.string(),
            at: z.string(),
            asKnownThen: z.record(z.string(), entitlementSchema).describe('Only what had been recorded by then'),
            asKnownNow: z
              .record(z.string(), entitlementSchema)
              .describe('Everything recorded since, at the stores’ times (a late refund changes the past)'),
          }),
          ...problems(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { appUserId } = request.params;
      const at = new Date(request.query.at).toISOString();
      const { asKnownThen, asKnownNow } = await entitlementsAtMoment(deps, appUserId, at);
      const byId = (entitlements: typeof asKnownNow) =>
        Object.fromEntries(entitlements.map((e) => [e.id, entitlementDocument(e)]));
      return { appUserId, at, asKnownThen: byId(asKnownThen), asKnownNow: byId(asKnownNow) };
    },
  );

  await plain.register(adminCustomerPurchaseRoutes, deps);
  await plain.register(adminCustomerActionRoutes, deps);
};

/** The catalog product an entry's purchase is of, when its facts name one. */
function productOf(catalog: Catalog, entry: HistoryEntry): string | undefined {
  const data = entry.data as { transaction?: { productId?: string } };
  const storeProductId = data.transaction?.productId;
  if (!storeProductId) return undefined;
  return productForStoreProduct(catalog, entry.purchase.store, storeProductId)?.id;
}
