import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Catalog } from '../../domain/catalog.ts';
import { acceptGoogleNotification } from '../../ingest/google/accept-notification.ts';
import { pubSubPushSchema } from '../../ingest/google/play-payloads.ts';
import type { VerifiedPusher } from '../../ingest/google/push-auth.ts';
import type { PushAuthenticator } from '../../ingest/google/push-auth.ts';
import type { IntakeQueue } from '../../intake/intake-queue.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { Refusal } from '../../domain/refusal.ts';
import { problems } from '../schemas.ts';

export interface GoogleWebhookDeps {
  /** Absent when no push subscription is configured: every push is refused (503), so Pub/Sub keeps it. */
  readonly push?: PushAuthenticator;
  readonly catalog: Catalog;
  readonly queue: IntakeQueue;
  readonly metrics: Metrics;
}

const body = pubSubPushSchema;
const accepted = z.object({
  status: z.enum(['accepted', 'duplicate']).describe('duplicate: received before; nothing changes'),
  messageId: z.string(),
});

/** Google Play real-time developer notifications, as a Cloud Pub/Sub push: `POST /v1/webhooks/google`. */
export const googleWebhookRoutes: FastifyPluginAsync<GoogleWebhookDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  const refused = (request: FastifyRequest, refusal: Refusal) => {
    deps.metrics.googleNotifications.inc({ outcome: 'rejected', code: refusal.code });
    request.log.warn({ code: refusal.code, detail: refusal.message }, 'Google Play notification refused');
    return refusal;
  };
  /** Who pushed each request, proven from its headers before its body was read. */
  const pushers = new WeakMap<FastifyRequest, VerifiedPusher>();
  const pusherOf = (request: FastifyRequest) => pushers.get(request)!;
  app.post(
    '/v1/webhooks/google',
    {
      bodyLimit: 64 * 1024,
      attachValidation: true,
      // Anyone can post here: a stranger's body is never read, let alone one sent slowly.
      onRequest: async (request) => {
        if (!deps.push) {
          throw refused(
            request,
            new Refusal(
              'unavailable',
              'google_push_not_configured',
              'Set GOOGLE_PUSH_AUDIENCE and GOOGLE_PUSH_SERVICE_ACCOUNT to receive Play notifications',
            ),
          );
        }
        try {
          pushers.set(request, await deps.push.verify(request.headers.authorization));
        } catch (error) {
          throw error instanceof Refusal ? refused(request, error) : error;
        }
      },
      schema: {
        description:
          'Play real-time developer notifications (Pub/Sub push with an OIDC token); 2xx only once durably recorded',
        body,
        response: { 200: accepted, ...problems(400, 401, 403, 413, 422, 503) },
      },
    },
    async (request, reply) => {
      const message = request.body?.message;
      const messageId = message?.messageId ?? message?.message_id;
      if (request.validationError || !message || !messageId) {
        throw refused(
          request,
          new Refusal('malformed', 'malformed_request', 'Expected a Pub/Sub push: {"message": {"data", "messageId"}}'),
        );
      }
      try {
        const publishTime = message.publishTime ?? message.publish_time;
        const result = await acceptGoogleNotification({ catalog: deps.catalog, queue: deps.queue }, pusherOf(request), {
          messageId,
          data: message.data,
          ...(publishTime && { publishTime }),
          ...(message.attributes && { attributes: message.attributes }),
          ...(request.body.subscription && { subscription: request.body.subscription }),
        });
        deps.metrics.googleNotifications.inc({ outcome: result.outcome, code: '' });
        request.log.info(result, 'Google Play notification accepted');
        return reply.code(200).send({ status: result.outcome, messageId: result.messageId });
      } catch (error) {
        throw error instanceof Refusal ? refused(request, error) : error;
      }
    },
  );
};
