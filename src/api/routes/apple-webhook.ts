import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { acceptAppleNotification } from '../../ingest/apple/accept-notification.ts';
import { AppleRejection, type AppleRejectionCode } from '../../ingest/apple/verify-notification.ts';
import { sendProblem } from '../problems.ts';

type Deps = Parameters<typeof acceptAppleNotification>[0];

const body = z.object({ signedPayload: z.string().min(1) });

/** 503 for a check that may pass later (Apple retries); 4xx, which Apple does not retry, for the rest. */
const STATUS_BY_REJECTION: Record<AppleRejectionCode, number> = {
  malformed_payload: 400,
  unknown_app: 422,
  unsupported_environment: 422,
  invalid_signature: 401,
  invalid_certificate: 401,
  wrong_app: 422,
  wrong_environment: 422,
  verification_unavailable: 503,
};

/** App Store Server Notifications V2: `POST /v1/webhooks/apple` with `{"signedPayload": "<JWS>"}`. */
export const appleWebhookRoutes: FastifyPluginAsync<Deps> = async (app, deps) => {
  app.post('/v1/webhooks/apple', { bodyLimit: 64 * 1024 }, async (request, reply) => {
    const parsed = body.safeParse(request.body);
    if (!parsed.success) {
      return sendProblem(reply, 400, 'malformed_request', 'Expected a JSON body {"signedPayload": "<JWS>"}');
    }
    try {
      const accepted = await acceptAppleNotification(deps, parsed.data.signedPayload);
      request.log.info(accepted, 'App Store notification accepted');
      return reply.code(200).send({ status: accepted.outcome, notificationUUID: accepted.notificationUUID });
    } catch (error) {
      if (!(error instanceof AppleRejection)) throw error; // a database failure: 500, and Apple retries
      request.log.warn({ code: error.code, reason: error.message }, 'App Store notification rejected');
      return sendProblem(reply, STATUS_BY_REJECTION[error.code], error.code, error.message);
    }
  });
};
