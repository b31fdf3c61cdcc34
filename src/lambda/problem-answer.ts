import { STATUS_OF_KIND } from '../api/problems.ts';
import { problemDocument } from '../api/problem-document.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { isQueueUnavailable } from '../intake/queue-unavailable.ts';
import { Refusal } from '../domain/refusal.ts';
import type { Logger } from '../observability/logger.ts';
import type { HttpResult } from './http-event.ts';

/**
 * Problem details as the HTTP service answers them (src/api/problems.ts, whose table from a
 * refusal's kind to its status is used as it is), for answers that leave a Lambda function
 * instead of a fastify reply. The headers below are `sendProblem`'s, which is tied to
 * fastify's reply: the same rules, kept in step by test/lambda/webhooks.e2e.spec.ts.
 */

/** An answer about the HTTP request itself, which fastify gives in the service (413, 415, 404). */
export class HttpProblem extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, detail: string) {
    super(detail);
    this.status = status;
    this.code = code;
    this.name = 'HttpProblem';
  }
}

/** How long a client should wait before asking again after a 503 (as the service says). */
const RETRY_AFTER_SECONDS = 5;

export function problemResult(status: number, code: string, detail: string, extensions = {}): HttpResult {
  return {
    statusCode: status,
    headers: {
      'content-type': 'application/problem+json; charset=utf-8',
      ...(status === 401 && { 'www-authenticate': bearerChallenge(code) }),
      ...(status === 503 && { 'retry-after': String(RETRY_AFTER_SECONDS) }),
    },
    body: JSON.stringify(problemDocument(status, code, detail, extensions)),
    isBase64Encoded: false,
  };
}

/**
 * Whatever a webhook threw, as the service would answer it: a refusal with its kind's
 * status, the database or the queue away with 503 (the store retries), a fault of ours
 * with 500 and its stack in the log.
 */
export function resultOfError(error: unknown, log: Logger): HttpResult {
  if (error instanceof Refusal) {
    return problemResult(STATUS_OF_KIND[error.kind], error.code, error.message, error.extensions);
  }
  if (error instanceof HttpProblem) return problemResult(error.status, error.code, error.message);
  // Before the database's test: the AWS SDK's network errors carry the same socket codes.
  if (isQueueUnavailable(error)) {
    log.error({ err: { message: (error as Error).message } }, 'the intake queue cannot be reached: answering 503');
    return problemResult(503, 'queue_unavailable', 'The intake queue cannot be reached; try again shortly');
  }
  if (isDatabaseUnavailable(error)) {
    log.error({ err: { message: (error as Error).message } }, 'the database cannot be reached: answering 503');
    return problemResult(503, 'database_unavailable', 'The database cannot be reached; try again shortly');
  }
  log.error({ err: error }, 'request failed');
  return problemResult(500, 'internal_error', 'Something went wrong on our side; it is logged');
}

/** RFC 6750's challenge, as the service sends it: a failed credential says so. */
function bearerChallenge(code: string): string {
  if (code.endsWith('_expired')) return 'Bearer error="invalid_token", error_description="token expired"';
  if (code.endsWith('_invalid')) return 'Bearer error="invalid_token"';
  return 'Bearer';
}
