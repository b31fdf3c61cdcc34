import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { acceptAppleNotification } from '../../ingest/apple/accept-notification.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { problems } from '../schemas.ts';
import { Refusal } from '../../domain/refusal.ts';

type Deps = Parameters<typeof acceptAppleNotification>[0] & { readonly metrics: Metrics };

const body = z.object({ signedPayload: z.string().min(1).describe('The JWS App Store Server Notifications V2 send') });
const accepted = z.object({
  status: z.enum(['accepted', 'duplicate']).describe('duplicate: received before; nothing changes'),
  notificationUUID: z.string(),
});

/** App Store Server Notifications V2: `POST /v1/webhooks/apple` with `{"signedPayload": "<JWS>"}`. */
export const appleWebhookRoutes: FastifyPluginAsync<Deps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/v1/webhooks/apple',
    {
      bodyLimit: 64 * 1024,
      // Validation failures reach the handler, so they are counted and logged like every refusal.
      attachValidation: true,
      schema: {
        description: 'App Store Server Notifications V2; 2xx only once the notification is durably recorded',
        body,
        response: { 200: accepted, ...problems(400, 401, 413, 422, 503) },
      },
    },
    async (request, reply) => {
      try {
        if (request.validationError) {
          throw new Refusal('malformed', 'malformed_request', 'Expected a JSON body {"signedPayload": "<JWS>"}');
        }
        const result = await acceptAppleNotification(deps, request.body.signedPayload);
        deps.metrics.appleNotifications.inc({ outcome: result.outcome, code: '' });
        request.log.info(result, 'App Store notification accepted');
        return reply.code(200).send({ status: result.outcome, notificationUUID: result.notificationUUID });
      } catch (error) {
        // Refusals are answered with their kind's status; anything else (the database is down) is a 5xx, and Apple retries.
        if (error instanceof Refusal) {
          deps.metrics.appleNotifications.inc({ outcome: 'rejected', code: error.code });
          request.log.warn({ code: error.code, detail: error.message }, 'App Store notification rejected');
        }
        throw error;
      }
    },
  );
};
