import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { Pool } from '../../db/pool.ts';
import { productForStoreProduct, type Catalog } from '../../domain/catalog.ts';
import type { EventStore } from '../../eventstore/event-store.ts';
import type { Logger } from '../../observability/logger.ts';
import type { CustomerCache } from '../../projections/entitlements/customer-cache.ts';
import { refoldCustomer } from '../../projections/entitlements/refold-customer.ts';
import { customerHistory, entitlementsAtMoment, type HistoryEntry } from '../../support/customer-history.ts';
import { GrantRefused, grantEntitlement, revokeGrant } from '../../support/grants.ts';
import { reconcileCustomer } from '../../support/reconcile-customer.ts';
import { transferPurchases } from '../../support/transfer.ts';
import type { AppleReconciler } from '../../ingest/apple/reconcile.ts';
import type { PlayRecordingDeps } from '../../ingest/google/record-play-purchase.ts';
import { adminAccess } from '../authorization.ts';
import { sendProblem } from '../problems.ts';
import { entitlementDocument } from '../customer-document.ts';
import { appUserIdParams, entitlementSchema, problems } from '../schemas.ts';

export interface AdminCustomerRouteDeps {
  readonly authenticator: Authenticator;
  readonly db: Pool;
  readonly eventStore: EventStore;
  readonly catalog: Catalog;
  readonly logger: Logger;
  /** Dropped after a replay, so this instance answers from the repaired rows at once. */
  readonly customers: CustomerCache;
  /** The stores, when they can be asked (reconcile). */
  readonly apple?: AppleReconciler;
  readonly google?: PlayRecordingDeps;
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
  actor: z.object({ kind: z.string(), id: z.string(), reason: z.string().optional() }).nullable(),
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
 * history with the effect of each event, and their entitlements at any moment.
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

  app.post(
    '/v1/admin/customers/:appUserId/replay',
    {
      onRequest,
      schema: {
        description:
          'Re-folds every purchase of the customer from the event store and rewrites their read-model rows; answers what changed (dryRun: only answers)',
        security,
        params: appUserIdParams,
        body: z
          .strictObject({
            dryRun: z.boolean().default(false),
            reason: z.string().min(1).max(500).optional().describe('Why, for the log'),
          })
          .default({ dryRun: false }),
        response: {
          200: z.object({
            appUserId: z.string(),
            dryRun: z.boolean(),
            streams: z.array(z.string()).describe('The purchases re-folded'),
            changed: z
              .array(z.object({ streamId: z.string(), before: z.unknown(), after: z.unknown() }))
              .describe('Read-model statuses the replay changes (or would, in a dry run)'),
          }),
          ...problems(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { appUserId } = request.params;
      const { dryRun, reason } = request.body;
      const result = await refoldCustomer({ ...deps, pool: deps.db }, appUserId, { dryRun });
      if (!dryRun) deps.customers.invalidate(appUserId);
      const staff = request.caller?.kind === 'server' ? request.caller.name : undefined;
      request.log.info({ appUserId, dryRun, staff, reason, changed: result.changed.length }, 'customer replayed');
      return { appUserId, dryRun, streams: [...result.streams], changed: [...result.changed] };
    },
  );

  const staffOf = (request: FastifyRequest) =>
    request.caller?.kind === 'server' ? `${request.caller.name} (${request.caller.keyId})` : 'unknown';
  const reason = z.string().min(1).max(500).describe('Why: kept on every event, shown in the history');

  app.post(
    '/v1/admin/customers/:appUserId/grants',
    {
      onRequest,
      schema: {
        description:
          'Gives the customer a catalog product’s entitlements for a while (or for good), as a promotional purchase',
        security,
        params: appUserIdParams,
        body: z.strictObject({
          productId: z.string().min(1).describe('A catalog product id; the grant gives its entitlements'),
          endsAt: timestamp.optional(),
          durationDays: z.number().int().min(1).max(36_500).optional(),
          reason,
        }),
        response: {
          201: z.object({
            grantId: z.string(),
            appUserId: z.string(),
            productId: z.string(),
            entitlements: z.array(z.string()),
            startsAt: z.string(),
            endsAt: z.string().nullable().describe('null: for good'),
          }),
          ...problems(400, 401, 403, 422),
        },
      },
    },
    async (request, reply) => {
      const { appUserId } = request.params;
      const { productId, endsAt, durationDays } = request.body;
      try {
        const grant = await grantEntitlement(deps, appUserId, {
          productId,
          ...(endsAt && { endsAt: new Date(endsAt).toISOString() }),
          ...(durationDays && { durationDays }),
          reason: request.body.reason,
          staff: staffOf(request),
        });
        request.log.info({ ...grant, staff: staffOf(request) }, 'promotional grant given');
        return reply.code(201).send({ ...grant, entitlements: [...grant.entitlements] });
      } catch (error) {
        if (!(error instanceof GrantRefused)) throw error;
        return sendProblem(reply, 422, error.code, error.message);
      }
    },
  );

  app.delete(
    '/v1/admin/customers/:appUserId/grants/:grantId',
    {
      onRequest,
      schema: {
        description: 'Ends a promotional grant now; its past stays in the history',
        security,
        params: appUserIdParams.extend({ grantId: z.string().min(1).max(64) }),
        querystring: z.object({ reason }),
        response: { 204: z.null().describe('Ended'), ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { appUserId, grantId } = request.params;
      try {
        await revokeGrant(deps, appUserId, grantId, { reason: request.query.reason, staff: staffOf(request) });
      } catch (error) {
        if (!(error instanceof GrantRefused)) throw error;
        return sendProblem(reply, 404, error.code, error.message);
      }
      request.log.info({ appUserId, grantId, staff: staffOf(request) }, 'promotional grant ended');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/admin/customers/:appUserId/transfer',
    {
      onRequest,
      schema: {
        description:
          'Moves every purchase the customer owns to another app user (an account merge, an anonymous id become a logged-in one)',
        security,
        params: appUserIdParams,
        body: z.strictObject({ to: appUserIdParams.shape.appUserId, reason }),
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            moved: z.array(z.object({ store: z.string(), environment: z.string(), purchaseId: z.string() })),
          }),
          ...problems(400, 401, 403, 422),
        },
      },
    },
    async (request, reply) => {
      const { appUserId: from } = request.params;
      const { to } = request.body;
      if (to === from) return sendProblem(reply, 422, 'same_customer', 'Transfer to another app user');
      const moved = await transferPurchases({ ...deps }, from, to, {
        reason: request.body.reason,
        staff: staffOf(request),
      });
      for (const user of [from, to]) deps.customers.invalidate(user);
      request.log.info({ from, to, moved: moved.length, staff: staffOf(request) }, 'purchases transferred');
      return { from, to, moved };
    },
  );

  app.post(
    '/v1/admin/customers/:appUserId/reconcile',
    {
      onRequest,
      schema: {
        description: 'Asks the stores about each of the customer’s purchases now, and records what they say',
        security,
        params: appUserIdParams,
        response: {
          200: z.object({
            appUserId: z.string(),
            purchases: z.array(
              z.object({ store: z.string(), environment: z.string(), purchaseId: z.string(), outcome: z.string() }),
            ),
          }),
          ...problems(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { appUserId } = request.params;
      const purchases = await reconcileCustomer(deps, appUserId);
      request.log.info({ appUserId, staff: staffOf(request) }, 'customer reconciled with the stores');
      return { appUserId, purchases };
    },
  );
};

/** The catalog product an entry's purchase is of, when its facts name one. */
function productOf(catalog: Catalog, entry: HistoryEntry): string | undefined {
  const data = entry.data as { transaction?: { productId?: string } };
  const storeProductId = data.transaction?.productId;
  if (!storeProductId) return undefined;
  return productForStoreProduct(catalog, entry.purchase.store, storeProductId)?.id;
}
