import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';

/**
 * Errors as RFC 9457 problem details (`application/problem+json`), with a stable,
 * machine-readable `code`. The one place errors become HTTP; no stack traces or
 * SQL ever leave the process.
 */
export function sendProblem(
  reply: FastifyReply,
  status: number,
  code: string,
  detail: string,
  /** RFC 9457 extension members, e.g. the public part of locked content. */
  extensions: Record<string, unknown> = {},
) {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: `https://subledger.dev/problems/${code}`,
      title: code.replaceAll('_', ' '),
      status,
      code,
      detail,
      ...extensions,
    });
}

/** Fastify's own failures (unparsable JSON, a body over the limit) and anything unexpected. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendProblem(reply, 413, 'body_too_large', 'The request body is larger than this endpoint accepts');
    }
    if (error.statusCode === 429) return sendProblem(reply, 429, 'rate_limited', error.message);
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return sendProblem(reply, 415, 'unsupported_media_type', 'Send the body as application/json');
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, error.statusCode, 'malformed_request', error.message);
    }
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, 500, 'internal_error', 'Something went wrong on our side; it is logged');
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, 'not_found', `No route ${request.method} ${request.url}`),
  );
}
