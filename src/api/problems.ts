import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Refusal, type RefusalKind } from '../domain/refusal.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { isQueueUnavailable } from '../intake/queue-unavailable.ts';
import { problemDocument } from './problem-document.ts';

/** The one table from a refusal's kind to its HTTP status. */
export const STATUS_OF_KIND: Readonly<Record<RefusalKind, number>> = {
  malformed: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unsupported_media_type: 415,
  invalid: 422,
  bad_gateway: 502,
  unavailable: 503,
};

/** How long a client should wait before asking again after a 503 of ours. */
const RETRY_AFTER_SECONDS = 5;

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
  extensions: Readonly<Record<string, unknown>> = {},
) {
  if (status === 401) reply.header('www-authenticate', bearerChallenge(code));
  if (status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  return reply
    .code(status)
    .type('application/problem+json')
    .send(problemDocument(status, code, detail, extensions));
}

/** A refusal, answered with its kind's status. */
export function sendRefusal(reply: FastifyReply, refusal: Refusal) {
  return sendProblem(reply, STATUS_OF_KIND[refusal.kind], refusal.code, refusal.message, refusal.extensions);
}

/** Fastify's own 4xx errors, by code, as our problem codes; others keep `malformed_request`. */
const FASTIFY_PROBLEMS: Readonly<Record<string, { status: number; code: string; detail?: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'body_too_large',
    detail: 'The request body is larger than this endpoint accepts',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    detail: 'Send the body as application/json',
  },
  FST_ERR_BAD_URL: { status: 400, code: 'malformed_url', detail: 'The URL is not valid percent-encoded UTF-8' },
};

/**
 * Every answer that is not a success is a problem document: refusals, fastify's own
 * failures (unparsable JSON, a body over the limit, a URL that is not UTF-8), the
 * database being away (503, logged once per outage), and faults of ours (500, logged
 * with their stack).
 */
export function installProblemHandlers(app: FastifyInstance, outage = new DatabaseOutageLog()): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof Refusal) {
      request.log.debug({ code: error.code, kind: error.kind }, 'request refused');
      return sendRefusal(reply, error);
    }
    const known = error.code ? FASTIFY_PROBLEMS[error.code] : undefined;
    if (known) return sendProblem(reply, known.status, known.code, known.detail ?? error.message);
    if (error.statusCode === 429) return sendProblem(reply, 429, 'rate_limited', error.message);
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      return sendProblem(reply, error.statusCode, 'malformed_request', error.message);
    }
    if (isQueueUnavailable(error)) {
      request.log.error({ err: { message: error.message } }, 'the intake queue cannot be reached: answering 503');
      return sendProblem(reply, 503, 'queue_unavailable', 'The intake queue cannot be reached; try again shortly');
    }
    if (isDatabaseUnavailable(error)) {
      outage.failed(request, error);
      return sendProblem(reply, 503, 'database_unavailable', 'The database cannot be reached; try again shortly');
    }
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, 500, 'internal_error', 'Something went wrong on our side; it is logged');
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, 'not_found', `No route ${request.method} ${request.url.slice(0, 200)}`),
  );
}

/**
 * Logs a database outage once, when requests start failing for it, and once when it ends.
 * It ends when the pool connects again (`recovered`, wired by the runtime), not when some
 * request succeeds: most answers (probes, cached customers) never ask the database.
 */
export class DatabaseOutageLog {
  private down = false;

  failed(request: FastifyRequest, error: Error): void {
    if (this.down) return;
    this.down = true;
    request.log.error({ err: { message: error.message } }, 'the database cannot be reached: answering 503');
  }

  recovered(log: { warn(message: string): void }): void {
    if (!this.down) return;
    this.down = false;
    log.warn('the database answers again');
  }
}

/** Fastify's router: a URL it cannot decode is a problem document too, not fastify's own JSON. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const known = error.code ? FASTIFY_PROBLEMS[error.code] : undefined;
  return sendProblem(reply, known?.status ?? 400, known?.code ?? 'malformed_request', known?.detail ?? error.message);
}

const CLIENT_ERRORS: Readonly<Record<string, { status: number; code: string; detail: string }>> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'headers_too_large',
    detail: 'The request line and headers are larger than this server accepts',
  },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', detail: 'The request was not received in time' },
};

/**
 * Node's HTTP parser refuses a request before fastify sees it (a URL or headers over
 * its limit, a request that never finishes): answer with a problem document and close.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const known = (error.code && CLIENT_ERRORS[error.code]) || {
    status: 400,
    code: 'malformed_request',
    detail: 'The request is not valid HTTP',
  };
  const body = JSON.stringify(problemDocument(known.status, known.code, known.detail));
  socket.end(
    `HTTP/1.1 ${known.status} ${STATUS_TEXT[known.status] ?? 'Bad Request'}\r\n` +
      `content-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/**
 * RFC 6750's challenge: a credential that was sent and failed says so (`invalid_token`,
 * and an expired one why), so a client knows to get a new token rather than log in.
 */
function bearerChallenge(code: string): string {
  if (code.endsWith('_expired')) return 'Bearer error="invalid_token", error_description="token expired"';
  if (code.endsWith('_invalid')) return 'Bearer error="invalid_token"';
  return 'Bearer';
}
