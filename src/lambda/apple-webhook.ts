import { z } from 'zod';
import { Refusal } from '../domain/refusal.ts';
import { acceptAppleNotification } from '../ingest/apple/accept-notification.ts';
import { appleVerifier } from '../ingest/apple/reconciler-from-config.ts';
import { jsonResult } from './http-event.ts';
import { jsonBodyOf } from './json-body.ts';
import { lambdaConfig, webhookFunction, type WebhookFunction } from './lambda-runtime.ts';

/** Apple's body, as the service's route takes it (src/api/routes/apple-webhook.ts). */
const body = z.object({ signedPayload: z.string().min(1) });

/**
 * App Store Server Notifications V2 on AWS Lambda, behind API Gateway or a function URL:
 * the service's `POST /v1/webhooks/apple`, with the same use case (verify, archive, queue on
 * SQS) and the same answers. Settings from `env`, checked at once (a ConfigError otherwise).
 */
export function appleWebhookFunction(env: NodeJS.ProcessEnv = process.env): WebhookFunction {
  const config = lambdaConfig(env);
  return webhookFunction({
    config,
    build: async ({ catalog, queue }) => ({ queue, verifier: await appleVerifier(config, catalog) }),
    async handle(request, dependencies, log) {
      const parsed = body.safeParse(jsonBodyOf(request));
      try {
        if (!parsed.success) {
          throw new Refusal('malformed', 'malformed_request', 'Expected a JSON body {"signedPayload": "<JWS>"}');
        }
        const result = await acceptAppleNotification(await dependencies(), parsed.data.signedPayload);
        log.info(result, 'App Store notification accepted');
        return jsonResult(200, { status: result.outcome, notificationUUID: result.notificationUUID });
      } catch (error) {
        if (error instanceof Refusal) {
          log.warn({ code: error.code, detail: error.message }, 'App Store notification rejected');
        }
        throw error;
      }
    },
  });
}

/** Built as the module loads, that is in the function's init: a bad setting fails it there. */
export const { handler, close } = appleWebhookFunction();
