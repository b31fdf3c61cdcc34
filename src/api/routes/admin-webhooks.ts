import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Authenticator } from '../../auth/authenticator.ts';
import { CUSTOMER_EVENT_TYPES } from '../../domain/customer-events/customer-event.ts';
import { parsePosition } from '../../eventstore/global-position.ts';
import { REPLAY_LIMIT, type DeliveryRecord, type WebhookDeliveries } from '../../webhooks/webhook-deliveries.ts';
import type { WebhookEndpoint, WebhookEndpoints } from '../../webhooks/webhook-endpoints.ts';
import { adminAccess } from '../authorization.ts';
import { appUserIdParams, problems } from '../schemas.ts';

export interface AdminWebhookRouteDeps {
  readonly endpoints: WebhookEndpoints;
  readonly deliveries: WebhookDeliveries;
  readonly authenticator: Authenticator;
}

const security = [{ bearer: [] }];
const endpointId = z.object({ id: z.string().regex(/^we_[0-9a-f]{32}$/, 'not an endpoint id') });
const eventTypes = z
  .array(z.enum(CUSTOMER_EVENT_TYPES as [string, ...string[]]))
  .min(1)
  .nullable()
  .describe('The event types it takes; null: every type');
const environments = z
  .array(z.enum(['production', 'sandbox']))
  .min(1)
  .nullable()
  .describe('The purchase environments it takes (sandbox events to a staging backend); null: both');
const endpointFields = z.object({
  url: z.string().max(2048).describe('https URL of the receiver; no private, loopback or link-local address'),
  description: z.string().max(500).optional(),
  eventTypes: eventTypes.optional(),
  environments: environments.optional(),
  maxInFlight: z.number().int().min(1).max(1000).optional().describe('Deliveries at once, over all customers'),
});
const endpointSchema = z.object({
  id: z.string(),
  url: z.string(),
  description: z.string(),
  eventTypes: z.array(z.string()).nullable(),
  environments: z.array(z.string()).nullable(),
  enabled: z.boolean(),
  maxInFlight: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const deliverySchema = z.object({
  id: z.string(),
  endpointId: z.string(),
  eventId: z.string().describe('Sent as `webhook-id`: the same on every attempt'),
  eventType: z.string(),
  appUserId: z.string(),
  status: z.enum(['pending', 'delivered', 'dead']),
  attempts: z.number().int(),
  lastStatus: z.number().int().nullable().describe('The receiver’s HTTP status on the last attempt'),
  lastError: z.string().nullable(),
  lastLatencyMs: z.number().int().nullable(),
  nextAttemptAt: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  cause: z.string().describe('ledger, test or replay'),
  createdAt: z.string(),
});

const shown = (endpoint: WebhookEndpoint) => ({
  ...endpoint,
  eventTypes: endpoint.eventTypes ? [...endpoint.eventTypes] : null,
  environments: endpoint.environments ? [...endpoint.environments] : null,
  createdAt: endpoint.createdAt.toISOString(),
  updatedAt: endpoint.updatedAt.toISOString(),
});

/**
 * The app's backends that hear about customer events (outgoing webhooks): create, list,
 * change, disable, rotate a secret, send a test event, and see each delivery.
 */
export const adminWebhookRoutes: FastifyPluginAsync<AdminWebhookRouteDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  const onRequest = adminAccess(deps.authenticator);

  app.post(
    '/v1/admin/webhooks/endpoints',
    {
      onRequest,
      schema: {
        description: 'Adds an endpoint. Its signing secret is in this answer only',
        security,
        body: endpointFields,
        response: {
          201: z.object({
            endpoint: endpointSchema,
            secret: z.string().describe('whsec_…, for a Standard Webhooks verifier'),
          }),
          ...problems(400, 401, 403, 422),
        },
      },
    },
    async (request, reply) => {
      const { endpoint, secret } = await deps.endpoints.create(request.body);
      return reply.code(201).send({ endpoint: shown(endpoint), secret });
    },
  );

  app.get(
    '/v1/admin/webhooks/endpoints',
    {
      onRequest,
      schema: {
        description: 'Every endpoint, oldest first',
        security,
        response: { 200: z.object({ endpoints: z.array(endpointSchema) }), ...problems(401, 403) },
      },
    },
    async () => ({ endpoints: (await deps.endpoints.list()).map(shown) }),
  );

  app.get(
    '/v1/admin/webhooks/endpoints/:id',
    {
      onRequest,
      schema: {
        description: 'One endpoint',
        security,
        params: endpointId,
        response: { 200: endpointSchema, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => shown(await deps.endpoints.get(request.params.id)),
  );

  app.patch(
    '/v1/admin/webhooks/endpoints/:id',
    {
      onRequest,
      schema: {
        description:
          'Changes an endpoint; `enabled: false` stops scheduling events to it, and sending what waits (until enabled again)',
        security,
        params: endpointId,
        body: endpointFields.partial().extend({ enabled: z.boolean().optional() }),
        response: { 200: endpointSchema, ...problems(400, 401, 403, 404, 422) },
      },
    },
    async (request) => shown(await deps.endpoints.update(request.params.id, request.body)),
  );

  app.post(
    '/v1/admin/webhooks/endpoints/:id/rotate-secret',
    {
      onRequest,
      schema: {
        description: 'A new signing secret, in this answer only; the previous one signs too for another day',
        security,
        params: endpointId,
        response: {
          200: z.object({ secret: z.string(), previousExpiresAt: z.string() }),
          ...problems(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const { secret, previousExpiresAt } = await deps.endpoints.rotateSecret(request.params.id);
      return { secret, previousExpiresAt: previousExpiresAt.toISOString() };
    },
  );

  app.post(
    '/v1/admin/webhooks/endpoints/:id/test',
    {
      onRequest,
      schema: {
        description: 'Sends the endpoint a TEST event',
        security,
        params: endpointId,
        response: { 202: z.object({ eventId: z.string() }), ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => reply.code(202).send(await deps.deliveries.sendTest(request.params.id)),
  );

  app.post(
    '/v1/admin/webhooks/endpoints/:id/replay',
    {
      onRequest,
      schema: {
        description:
          'Sends the endpoint again the customer events it takes, from a ledger position or a time, or one ' +
          'customer’s; in ledger order, each with its own webhook-id. `dryRun` lists what would be sent',
        security,
        params: endpointId,
        body: z.object({
          fromPosition: z
            .string()
            .refine((text) => parsePosition(text) !== undefined, 'a ledger position, commit.sequence')
            .optional()
            .describe('A ledger position, `commit.sequence` (each event names its own as ledgerPosition)'),
          fromTime: z.iso.datetime({ offset: true }).optional().describe('Events recorded at or after this time'),
          appUserId: z.string().min(1).max(256).optional().describe('Only this customer’s events'),
          dryRun: z.boolean().default(false),
        }),
        response: {
          200: z.object({
            dryRun: z.boolean(),
            count: z.number().int().describe(`How many events (at most ${REPLAY_LIMIT} in one replay)`),
            truncated: z.boolean().describe('More were chosen than one replay takes: replay again from the last one'),
            events: z
              .array(z.object({ eventId: z.string(), type: z.string(), appUserId: z.string(), occurredAt: z.string() }))
              .describe('The first 100, in ledger order'),
          }),
          ...problems(400, 401, 403, 404, 422),
        },
      },
    },
    async (request) => {
      const { fromPosition, fromTime, appUserId, dryRun } = request.body;
      const plan = await deps.deliveries.replay(
        request.params.id,
        {
          ...(fromPosition && { fromPosition: parsePosition(fromPosition) }),
          ...(fromTime && { fromTime: new Date(fromTime) }),
          ...(appUserId !== undefined && { appUserId }),
        },
        { dryRun },
      );
      return {
        dryRun,
        count: plan.count,
        truncated: plan.truncated,
        events: plan.events.map((e) => ({ ...e, occurredAt: e.occurredAt.toISOString() })),
      };
    },
  );

  app.post(
    '/v1/admin/webhooks/deliveries/:deliveryId/retry',
    {
      onRequest,
      schema: {
        description: 'Tries a dead (or waiting) delivery again now, with a new retry horizon',
        security,
        params: z.object({ deliveryId: z.string().regex(/^\d{1,18}$/, 'not a delivery id') }),
        response: {
          202: z.object({ deliveryId: z.string(), status: z.literal('pending') }),
          ...problems(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      await deps.deliveries.retry(request.params.deliveryId);
      return reply.code(202).send({ deliveryId: request.params.deliveryId, status: 'pending' as const });
    },
  );

  app.get(
    '/v1/admin/webhooks/endpoints/:id/deliveries',
    {
      onRequest,
      schema: {
        description: 'The endpoint’s latest deliveries, newest first, with status codes, attempts and latency',
        security,
        params: endpointId,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.object({ deliveries: z.array(deliverySchema) }), ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => {
      await deps.endpoints.get(request.params.id); // 404 for an unknown endpoint
      return { deliveries: (await deps.deliveries.recent(request.params.id, request.query.limit)).map(shownDelivery) };
    },
  );

  app.get(
    '/v1/admin/customers/:appUserId/webhook-deliveries',
    {
      onRequest,
      schema: {
        description: 'The latest deliveries about one customer, to every endpoint, newest first',
        security,
        params: appUserIdParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.object({ deliveries: z.array(deliverySchema) }), ...problems(400, 401, 403) },
      },
    },
    async (request) => {
      const { appUserId } = request.params;
      return {
        deliveries: (await deps.deliveries.recentForCustomer(appUserId, request.query.limit)).map(shownDelivery),
      };
    },
  );
};

const shownDelivery = (d: DeliveryRecord) => ({
  ...d,
  nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
  deliveredAt: d.deliveredAt?.toISOString() ?? null,
  createdAt: d.createdAt.toISOString(),
});
