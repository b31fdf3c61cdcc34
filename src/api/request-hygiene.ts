import type { FastifyInstance } from 'fastify';
import { Refusal } from '../domain/refusal.ts';
import { isJsonInUtf8 } from './media-types.ts';

/** Methods whose requests fastify reads a body of. */
export const WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * What every request must be before any route sees it, in one place:
 * - a body is JSON in UTF-8, or it is refused (415) before it is read (after the guards:
 *   a stranger hears 401 whatever they send);
 * - no text in the path or query PostgreSQL cannot store (NUL, lone surrogates): 400;
 *   in a body: 422 `unstorable_text`.
 * PostgreSQL refuses such text with an error, and a query that read many callers' rows
 * at once (the customer cache's batch) would fail for all of them: stopping it at the
 * door keeps one caller's bad input that caller's alone.
 */
export function installRequestHygiene(app: FastifyInstance): void {
  // fastify parses text/plain by default: a JSON route would see a string and answer
  // about the body's shape, or take no body at all as an empty one.
  app.removeContentTypeParser('text/plain');
  app.addHook('preParsing', async (request) => {
    if (!WITH_BODY.has(request.method)) return;
    const type = request.headers['content-type'];
    if (type !== undefined && !isJsonInUtf8(type)) {
      throw new Refusal(
        'unsupported_media_type',
        'unsupported_media_type',
        'Send the body as application/json (UTF-8)',
      );
    }
  });
  app.addHook('preValidation', async (request) => {
    const where = unstorableIn({ path: request.params, query: request.query });
    if (where) throw new Refusal('malformed', 'malformed_request', `The ${where} holds a NUL or an unpaired surrogate`);
    const inBody = unstorableIn(request.body);
    if (inBody !== undefined) {
      throw new Refusal(
        'invalid',
        'unstorable_text',
        `The body's ${inBody || 'text'} holds a NUL or an unpaired surrogate`,
      );
    }
  });
}

const storable = (text: string) => text.isWellFormed() && !text.includes('\u0000');

/** The path (dotted) of the first string, or key, that cannot be stored; undefined when all can. */
export function unstorableIn(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return storable(value) ? undefined : path;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const here = path ? `${path}.${key}` : key;
    if (!storable(key)) return here;
    const found = unstorableIn(inner, here);
    if (found !== undefined) return found;
  }
  return undefined;
}
