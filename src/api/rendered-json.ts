import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';

/** A JSON answer rendered once, checked against its schema then, with a strong ETag of its text. */
export interface RenderedJson {
  readonly json: string;
  readonly etag: string;
}

/**
 * Renders a value that many requests will be answered with. Checking the schema and
 * hashing happen here, once, rather than on every request that sends it.
 */
export function renderJson<S extends z.ZodType>(schema: S, value: z.input<S>): RenderedJson {
  const json = JSON.stringify(schema.parse(value));
  return { json, etag: `"${createHash('sha256').update(json).digest('base64url')}"` };
}

/**
 * Sends a rendered answer with its ETag and the given Cache-Control, and 304
 * with no body when the client already holds this very text.
 */
export function sendRendered(
  request: FastifyRequest,
  reply: FastifyReply,
  rendered: RenderedJson,
  cacheControl: string,
): FastifyReply {
  reply.header('etag', rendered.etag).header('cache-control', cacheControl);
  if (request.headers['if-none-match'] === rendered.etag) return reply.code(304).send(null);
  return reply.type('application/json; charset=utf-8').send(rendered.json);
}
