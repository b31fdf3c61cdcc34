import { ConfigError } from '../config/config.ts';
import { Refusal } from '../domain/refusal.ts';
import { acceptGoogleNotification } from '../ingest/google/accept-notification.ts';
import { pubSubPushSchema } from '../ingest/google/play-payloads.ts';
import { PushAuthenticator } from '../ingest/google/push-auth.ts';
import { jsonResult } from './http-event.ts';
import { jsonBodyOf } from './json-body.ts';
import { lambdaConfig, webhookFunction, type WebhookFunction } from './lambda-runtime.ts';

const body = pubSubPushSchema;

/**
 * Google Play real-time developer notifications on AWS Lambda: the service's
 * `POST /v1/webhooks/google`, with the same push authentication (from the headers, before
 * the body is read), the same use case (decode, archive, queue on SQS) and the same answers.
 * A function without a push subscription configured would refuse every push: it fails its
 * init instead.
 */
export function googleWebhookFunction(env: NodeJS.ProcessEnv = process.env): WebhookFunction {
  const config = lambdaConfig(env);
  if (!config.google.push) {
    throw new ConfigError([
      'GOOGLE_PUSH_AUDIENCE and GOOGLE_PUSH_SERVICE_ACCOUNT: required by the Google webhook function (who may push Play notifications)',
    ]);
  }
  const push = new PushAuthenticator(config.google.push);
  return webhookFunction({
    config,
    build: async ({ catalog, queue }) => ({ catalog, queue }),
    async handle(request, dependencies, log) {
      try {
        const pusher = await push.verify(request.headers.authorization);
        const parsed = body.safeParse(jsonBodyOf(request));
        const message = parsed.success ? parsed.data.message : undefined;
        const messageId = message?.messageId ?? message?.message_id;
        if (!parsed.success || !message || !messageId) {
          throw new Refusal(
            'malformed',
            'malformed_request',
            'Expected a Pub/Sub push: {"message": {"data", "messageId"}}',
          );
        }
        const publishTime = message.publishTime ?? message.publish_time;
        const result = await acceptGoogleNotification(await dependencies(), pusher, {
          messageId,
          data: message.data,
          ...(publishTime && { publishTime }),
          ...(message.attributes && { attributes: message.attributes }),
          ...(parsed.data.subscription && { subscription: parsed.data.subscription }),
        });
        log.info(result, 'Google Play notification accepted');
        return jsonResult(200, { status: result.outcome, messageId: result.messageId });
      } catch (error) {
        if (error instanceof Refusal) {
          log.warn({ code: error.code, detail: error.message }, 'Google Play notification refused');
        }
        throw error;
      }
    },
  });
}

/** Built as the module loads, that is in the function's init: a bad setting fails it there. */
export const { handler, close } = googleWebhookFunction();
