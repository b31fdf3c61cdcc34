import { unstorableIn } from '../api/request-hygiene.ts';
import { isJsonInUtf8, mediaOf } from '../api/media-types.ts';
import { Refusal } from '../domain/refusal.ts';
import type { HttpRequest } from './http-event.ts';
import { HttpProblem } from './problem-answer.ts';

/** The webhooks' limit: a store's notification is a few KB (App Store's about 15). */
export const WEBHOOK_BODY_LIMIT = 64 * 1024;

/**
 * The body of a POST as the service reads it before a route sees it, with the same refusals
 * in the same order (src/api/request-hygiene.ts around fastify's JSON parser): 415 when it is
 * not JSON in UTF-8, 413 over the limit, 400 when it does not parse, 400 for a query and 422
 * `unstorable_text` for a body PostgreSQL cannot store. No body and no type: undefined.
 */
export function jsonBodyOf(request: HttpRequest, limit = WEBHOOK_BODY_LIMIT): unknown {
  const type = request.headers['content-type'];
  const bytes = request.body ?? Buffer.alloc(0);
  if (type !== undefined && !isJsonInUtf8(type)) {
    throw new Refusal('unsupported_media_type', 'unsupported_media_type', 'Send the body as application/json (UTF-8)');
  }
  // A body without a type, or of a `+json` type the hygiene lets through: fastify has no parser for it.
  if (type === undefined ? bytes.length > 0 : mediaOf(type) !== 'application/json') {
    throw new HttpProblem(415, 'unsupported_media_type', 'Send the body as application/json');
  }
  if (bytes.length > limit) {
    throw new HttpProblem(413, 'body_too_large', 'The request body is larger than this endpoint accepts');
  }
  let body: unknown;
  if (type !== undefined) {
    if (bytes.length === 0) {
      throw new HttpProblem(
        400,
        'malformed_request',
        "Body cannot be empty when content-type is set to 'application/json'",
      );
    }
    body = parseJson(bytes.toString('utf8'));
  }
  const where = unstorableIn({ path: {}, query: request.query });
  if (where) throw new Refusal('malformed', 'malformed_request', `The ${where} holds a NUL or an unpaired surrogate`);
  const inBody = unstorableIn(body);
  if (inBody !== undefined) {
    throw new Refusal(
      'invalid',
      'unstorable_text',
      `The body's ${inBody || 'text'} holds a NUL or an unpaired surrogate`,
    );
  }
  return body;
}

/** JSON (a byte order mark ignored), refusing prototype poisoning (`__proto__`, `constructor.prototype`), as fastify does. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text, (key, value: unknown) => {
      if (key === '__proto__') throw new SyntaxError('forbidden prototype property');
      if (key === 'constructor' && isObject(value) && Object.hasOwn(value, 'prototype')) {
        throw new SyntaxError('forbidden prototype property');
      }
      return value;
    });
  } catch {
    throw new HttpProblem(
      400,
      'malformed_request',
      "Body is not valid JSON but content-type is set to 'application/json'",
    );
  }
}

const isObject = (value: unknown): value is object => value !== null && typeof value === 'object';
