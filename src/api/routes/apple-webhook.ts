import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { acceptAppleNotification } from '../../ingest/apple/accept-notification.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { sendProblem } from '../problems.ts';
import { sendAppleProblem } from './apple-problems.ts';

type Deps = Parameters<typeof acceptAppleNotification>[0] & { readonly metrics: Metrics };

const body = z.object({ signedPayload: z.string().min(1) });

/** App Store Server Notifications V2: `POST /v1/webhooks/apple` with `{"signedPayload": "<JWS>"}`. */
export const appleWebhookRoutes: FastifyPluginAsync<Deps> = async (app, deps) => {
  app.post('/v1/webhooks/apple', { bodyLimit: 64 * 1024 }, async (request, reply) => {
    const parsed = body.safeParse(request.body);
    if (!parsed.success) {
      deps.metrics.appleNotifications.inc({ outcome: 'rejected', code: 'malformed_request' });
      request.log.warn({ code: 'malformed_request' }, 'App Store notification rejected');
      return sendProblem(reply, 400, 'malformed_request', 'Expected a JSON body {"signedPayload": "<JWS>"}');
    }
    try {
      const accepted = await acceptAppleNotification(deps, parsed.data.signedPayload);
      deps.metrics.appleNotifications.inc({ outcome: accepted.outcome, code: '' });
      request.log.info(accepted, 'App Store notification accepted');
      return reply.code(200).send({ status: accepted.outcome, notificationUUID: accepted.notificationUUID });
    } catch (error) {
      // Anything else (the database is down) is a 500, and Apple retries.
      const problem = sendAppleProblem(reply, error);
      if (!problem) throw error;
      deps.metrics.appleNotifications.inc({ outcome: 'rejected', code: (error as { code: string }).code });
      request.log.warn({ err: error }, 'App Store notification rejected');
      return problem;
    }
  });
};
