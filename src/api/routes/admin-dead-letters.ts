import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { IntakeQueue } from '../../intake/intake-queue.ts';
import { adminAccess } from '../authorization.ts';
import { sendProblem } from '../problems.ts';
import { problems } from '../schemas.ts';

export interface AdminDeadLetterRouteDeps {
  readonly queue: IntakeQueue;
  readonly authenticator: Authenticator;
}

/** The queue lists dead letters newest first with a limit and no cursor: this many at most. */
const MAX_LIMIT = 500;

// A PostgreSQL queue's ids are numbers, SQS's are UUIDs: anything else names no message (400).
const messageId = z.string().regex(/^[A-Za-z0-9-]{1,128}$/, 'not a message id');
const deadLetter = z.object({
  messageId: z.string(),
  kind: z.string().describe('What the document is, e.g. apple.notification.v2'),
  deduplicationId: z.string(),
  orderingKey: z.string(),
  documentId: z.string().describe('The verbatim document in the source document archive'),
  attempts: z.number().int(),
  reason: z.string().describe('Why the last attempt failed'),
  enqueuedAt: z.string().describe('ISO 8601, UTC'),
  failedAt: z.string().describe('ISO 8601, UTC; when it became a dead letter'),
});
const security = [{ bearer: [] }];

/**
 * Support staff see the notifications that could not be processed, with the reason, and
 * put one back in the intake queue once its cause is fixed. Every retry is logged with
 * the name of the admin key that asked for it.
 */
export const adminDeadLetterRoutes: FastifyPluginAsync<AdminDeadLetterRouteDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  const adminOnly = adminAccess(deps.authenticator);

  app.get(
    '/v1/admin/dead-letters',
    {
      onRequest: adminOnly,
      schema: {
        description: `Intake messages that failed for good, the most recent failure first; no paging: at most ${MAX_LIMIT}`,
        security,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(50) }),
        response: { 200: z.object({ deadLetters: z.array(deadLetter) }), ...problems(400, 401, 403) },
      },
    },
    async (request) => {
      const letters = await deps.queue.deadLetters({ limit: request.query.limit });
      return {
        deadLetters: letters.map((letter) => ({
          ...letter,
          enqueuedAt: letter.enqueuedAt.toISOString(),
          failedAt: letter.failedAt.toISOString(),
        })),
      };
    },
  );

  app.post(
    '/v1/admin/dead-letters/:messageId/retry',
    {
      onRequest: adminOnly,
      schema: {
        description: 'Puts a dead letter back in the intake queue for a fresh set of attempts',
        security,
        params: z.object({ messageId }),
        response: {
          202: z.object({ messageId: z.string(), status: z.literal('queued') }).describe('Queued again'),
          ...problems(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const { messageId } = request.params;
      if (!(await deps.queue.retryDeadLetter(messageId))) {
        return sendProblem(reply, 404, 'unknown_dead_letter', `No dead letter ${messageId}`);
      }
      const caller = request.caller;
      const staff = caller?.kind === 'server' ? { staff: caller.name, keyId: caller.keyId } : {};
      request.log.info({ messageId, ...staff }, 'dead letter put back in the intake queue');
      return reply.code(202).send({ messageId, status: 'queued' as const });
    },
  );
};
