import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { endGrant } from '../../application/end-grant.ts';
import { giveGrant } from '../../application/give-grant.ts';
import { reconcileCustomer } from '../../application/reconcile-customer.ts';
import { replayCustomer } from '../../application/replay-customer.ts';
import { transferPurchases } from '../../application/transfer-purchases.ts';
import { adminAccess } from '../authorization.ts';
import { idempotencyHeaders, idempotent } from '../idempotency.ts';
import { appUserIdParams, problems } from '../schemas.ts';
import type { AdminCustomerRouteDeps } from './admin-customers.ts';

const timestamp = z.iso.datetime({ offset: true }).describe('RFC 3339');
const reason = z.string().min(1).max(500).describe('Why: kept on every event, shown in the history');
const security = [{ bearer: [] }];

const replayOptions = z
  .strictObject({
    dryRun: z.boolean().default(false),
    reason: z.string().min(1).max(500).optional().describe('Why, for the log'),
  })
  // Fastify hands an absent body to the schema as null: no body means the defaults.
  .nullable()
  .transform((options) => options ?? { dryRun: false });

const grantRequest = z
  .strictObject({
    productId: z.string().min(1).describe('A catalog product id; the grant gives its entitlements'),
    endsAt: timestamp.optional().describe('When it ends; or durationDays, not both; neither: for good'),
    durationDays: z.number().int().min(1).max(36_500).optional(),
    reason,
  })
  .refine((grant) => grant.endsAt === undefined || grant.durationDays === undefined, {
    message: 'Give durationDays or endsAt, not both',
    path: ['durationDays'],
  });

/**
 * What support staff do to one customer: replay, grants, transfers, reconcile, each a use
 * case of src/application that answers once the read model shows what it did (read your
 * writes). The writes take an `Idempotency-Key`, so that a retry does not do them twice.
 */
export const adminCustomerActionRoutes: FastifyPluginAsync<AdminCustomerRouteDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  emptyJsonBodyIsNoBody(plain);
  const onRequest = adminAccess(deps.authenticator);
  const writeOnce = idempotent(deps.idempotency);
  const staffOf = (request: FastifyRequest) =>
    request.caller?.kind === 'server' ? `${request.caller.name} (${request.caller.keyId})` : 'unknown';

  app.post(
    '/v1/admin/customers/:appUserId/replay',
    {
      onRequest,
      ...writeOnce,
      schema: {
        description:
          'Re-folds every purchase of the customer from the event store and rewrites their read-model rows; answers what changed (dryRun: only answers). The body is optional: none (or an empty one) means the defaults',
        security,
        params: appUserIdParams,
        headers: idempotencyHeaders,
        body: replayOptions,
        response: {
          200: z.object({
            appUserId: z.string(),
            dryRun: z.boolean(),
            streams: z.array(z.string()).describe('The purchases re-folded'),
            changed: z
              .array(
                z.object({
                  streamId: z.string(),
                  columns: z.array(z.string()).describe('The read-model columns that differ'),
                  before: z.unknown().describe('The stored row; null: none'),
                  after: z.unknown().describe('The row the events give'),
                }),
              )
              .describe('Read-model rows the replay changes (or would, in a dry run)'),
          }),
          ...problems(400, 401, 403, 409, 422),
        },
      },
    },
    async (request) => {
      const { appUserId } = request.params;
      const { dryRun, reason } = request.body;
      const result = await replayCustomer(deps, appUserId, { dryRun });
      const staff = request.caller?.kind === 'server' ? request.caller.name : undefined;
      request.log.info({ appUserId, dryRun, staff, reason, changed: result.changed.length }, 'customer replayed');
      return { appUserId, dryRun, streams: [...result.streams], changed: [...result.changed] };
    },
  );

  app.post(
    '/v1/admin/customers/:appUserId/grants',
    {
      onRequest,
      ...writeOnce,
      schema: {
        description:
          'Gives the customer a catalog product’s entitlements for a while (or for good), as a promotional purchase; answers once the customer’s entitlements show it',
        security,
        params: appUserIdParams,
        headers: idempotencyHeaders,
        body: grantRequest,
        response: {
          201: z.object({
            grantId: z.string(),
            appUserId: z.string(),
            productId: z.string(),
            entitlements: z.array(z.string()),
            startsAt: z.string(),
            endsAt: z.string().nullable().describe('null: for good'),
          }),
          ...problems(400, 401, 403, 409, 422),
        },
      },
    },
    async (request, reply) => {
      const { appUserId } = request.params;
      const { productId, endsAt, durationDays } = request.body;
      const grant = await giveGrant(deps, appUserId, {
        productId,
        ...(endsAt !== undefined && { endsAt: new Date(endsAt).toISOString() }),
        ...(durationDays !== undefined && { durationDays }),
        reason: request.body.reason,
        staff: staffOf(request),
      });
      request.log.info({ ...grant, staff: staffOf(request) }, 'promotional grant given');
      return reply.code(201).send({ ...grant, entitlements: [...grant.entitlements] });
    },
  );

  app.delete(
    '/v1/admin/customers/:appUserId/grants/:grantId',
    {
      onRequest,
      ...writeOnce,
      schema: {
        description:
          'Ends a promotional grant now (its past stays in the history); answers once the entitlements show it',
        security,
        params: appUserIdParams.extend({ grantId: z.string().min(1).max(64) }),
        querystring: z.object({ reason }),
        headers: idempotencyHeaders,
        response: { 204: z.null().describe('Ended'), ...problems(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const { appUserId, grantId } = request.params;
      await endGrant(deps, appUserId, grantId, { reason: request.query.reason, staff: staffOf(request) });
      request.log.info({ appUserId, grantId, staff: staffOf(request) }, 'promotional grant ended');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/admin/customers/:appUserId/transfer',
    {
      onRequest,
      ...writeOnce,
      schema: {
        description:
          'Moves every purchase the customer owns to another app user (an account merge, an anonymous id become a logged-in one); answers once both customers’ entitlements show it',
        security,
        params: appUserIdParams,
        headers: idempotencyHeaders,
        body: z.strictObject({ to: appUserIdParams.shape.appUserId, reason }),
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            moved: z.array(z.object({ store: z.string(), environment: z.string(), purchaseId: z.string() })),
          }),
          ...problems(400, 401, 403, 409, 422),
        },
      },
    },
    async (request, reply) => {
      const { appUserId: from } = request.params;
      const { to } = request.body;
      const moved = await transferPurchases(deps, from, to, { reason: request.body.reason, staff: staffOf(request) });
      request.log.info({ from, to, moved: moved.length, staff: staffOf(request) }, 'purchases transferred');
      return { from, to, moved };
    },
  );

  app.post(
    '/v1/admin/customers/:appUserId/reconcile',
    {
      onRequest,
      schema: {
        description:
          'Asks the stores about each of the customer’s purchases now, and records what they say; answers once the entitlements show it',
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

/**
 * In this plugin, an empty `application/json` body means no body, as it does without a
 * content type (fastify refuses it by default): a route whose body is optional takes
 * its defaults, one whose body is required refuses it as malformed either way.
 */
function emptyJsonBodyIsNoBody(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString(); // a string already: parseAs
    if (text.length === 0) done(null, undefined);
    else json(request, text, done);
  });
}
