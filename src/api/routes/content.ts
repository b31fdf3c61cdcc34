import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { ContentItem, ContentItems } from '../../content/content-items.ts';
import type { Likes } from '../../content/likes.ts';
import { appUserAccess } from '../authorization.ts';
import type { ScopedTokens } from '../../tokens/scoped-tokens.ts';
import type { Clock } from '../../domain/clock.ts';
import {
  EDGE_PROOF_HEADER,
  EDGE_SCOPE_HEADER,
  EdgeProofRefused,
  canonicalScope,
  verifyEdgeProof,
  type EdgeProofKey,
} from '../../auth/edge-proof.ts';
import { sendProblem } from '../problems.ts';
import { problems, problemSchema } from '../schemas.ts';
import { renderJson, sendRendered, type RenderedJson } from '../rendered-json.ts';

export interface ContentRouteDeps {
  readonly content: ContentItems;
  readonly tokens: ScopedTokens;
  readonly likes: Likes;
  readonly authenticator: Authenticator;
  /** Edges that prove the scope they verified (src/auth/edge-proof.ts); none: tokens only. */
  readonly edge: {
    readonly proofKeys: readonly EdgeProofKey[];
    readonly directTokens: boolean;
    /** A shared cache's lifetime for anonymous and edge-proven answers (`s-maxage`). */
    readonly sharedMaxAgeSeconds: number;
  };
  readonly clock: Clock;
}

/**
 * The scope an answer was made for, on every answer. Read from a request only with an
 * edge proof that covers it: a client can send any value.
 */
export const SCOPE_HEADER = EDGE_SCOPE_HEADER;

const publicItem = z.object({
  id: z.string(),
  kind: z.string(),
  title: z.string(),
  summary: z.string(),
  tags: z.array(z.string()),
  requiredEntitlement: z.string().nullable(),
  locked: z.boolean().describe("True when the caller's scope lacks the required entitlement"),
  updatedAt: z.string(),
});
const fullItem = publicItem.extend({ body: z.string() });
const listSchema = z.object({
  items: z.array(publicItem.extend({ likes: z.number().int() })),
  nextCursor: z.string().nullable(),
});
/**
 * Who may keep an answer. A shared cache keys on the URL and the headers in Vary, and
 * nothing there proves the caller's scope: so an answer to a request with credentials
 * (valid or not) is for that caller's browser only, which revalidates it with the ETag.
 * Anonymous requests all have the same, empty scope: shared caches keep those answers
 * (the paywall included) for `CONTENT_SHARED_MAX_AGE_SECONDS`. Vary: Authorization keeps those copies from token
 * holders, and X-Entitlement-Scope keeps apart copies made for a request that sent one.
 * An edge-proven answer is shared-cacheable by the edge, which keys its own cache on the
 * scope it verified; Vary on the proof (new for every request) keeps any plain cache
 * between edge and origin from handing it to a caller who only claims the scope.
 */
const shared = (seconds: number) => `public, max-age=0, s-maxage=${seconds}`;
const PRIVATE = 'private, max-age=0';
const VARY = `authorization, ${SCOPE_HEADER}, ${EDGE_PROOF_HEADER}`;
const listQuery = z.object({
  kind: z.string().optional(),
  cursor: z.string().optional().describe('From the previous page’s nextCursor'),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
const security = [{ scopedToken: [] }];

/**
 * Premium content. Answers depend on the item and the caller's scope only (never on
 * who the caller is); each says its scope in `X-Entitlement-Scope`, with an ETag.
 * Shared caches may keep anonymous answers only (see `cacheControlFor`).
 */
export const contentRoutes: FastifyPluginAsync<ContentRouteDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  const sharedAnswer = shared(deps.edge.sharedMaxAgeSeconds);
  /** Anonymous and edge-proven answers depend on the scope alone; a token's, on a credential only the caller has. */
  const cacheControlFor = (request: FastifyRequest) =>
    request.headers.authorization === undefined ? sharedAnswer : PRIVATE;
  // Fails closed: an answer no handler chose to let caches keep (401, 400, 404, 429, 500,
  // likes) is kept by none. The hook covers this plugin's routes only.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('vary', VARY);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
  // An unlocked item reads the same whatever the scope: rendered once per stored item.
  const unlocked = new WeakMap<ContentItem, RenderedJson>();
  const renderedItem = (item: ContentItem) => {
    let rendered = unlocked.get(item);
    if (!rendered) {
      rendered = renderJson(fullItem, { ...publicPart(item, []), locked: false, body: item.body });
      unlocked.set(item, rendered);
    }
    return rendered;
  };

  app.get(
    '/v1/content',
    {
      schema: {
        description:
          'Content items, public fields, locked or not for the caller’s scope. Shared caches may keep ' +
          'anonymous answers (`s-maxage`); answers to a token are `private`',
        security,
        querystring: listQuery,
        response: {
          200: listSchema,
          304: z.null().describe('Not modified'),
          ...problems(400, 401),
        },
      },
    },
    async (request, reply) => {
      const scope = await scopeOf(request, deps);
      const { kind, cursor, limit } = request.query;
      const items = await deps.content.list({ ...(kind && { kind }), ...(cursor && { after: cursor }), limit });
      const likes = await deps.likes.counts(items.map((item) => item.id));
      const page = renderJson(listSchema, {
        items: items.map((item) => ({ ...publicPart(item, scope), likes: likes.get(item.id) ?? 0 })),
        nextCursor: items.length === limit ? items.at(-1)!.id : null,
      });
      return sendRendered(request, withScope(reply, scope), page, cacheControlFor(request));
    },
  );

  app.get(
    '/v1/content/:id',
    {
      schema: {
        description:
          'One item, with its body when the caller’s scope holds the required entitlement. Shared caches ' +
          'may keep anonymous answers, the paywall included (`s-maxage`); answers to a token are `private`',
        security,
        params: z.object({ id: z.string().min(1).max(128) }),
        response: {
          200: fullItem,
          304: z.null().describe('Not modified'),
          403: problemSchema.extend({ item: publicItem.describe('The public part, to show a paywall with') }),
          ...problems(401, 404),
        },
      },
    },
    async (request, reply) => {
      const scope = await scopeOf(request, deps);
      const item = await deps.content.get(request.params.id);
      if (!item) return sendProblem(reply, 404, 'unknown_content', `No content ${request.params.id}`);
      if (isLocked(item, scope)) {
        const detail = `This needs the "${item.requiredEntitlement}" entitlement`;
        reply.header('cache-control', cacheControlFor(request));
        return sendProblem(withScope(reply, scope), 403, 'entitlement_required', detail, {
          item: publicPart(item, scope),
        });
      }
      return sendRendered(request, withScope(reply, scope), renderedItem(item), cacheControlFor(request));
    },
  );

  const idParams = z.object({ id: z.string().min(1).max(128) });
  const userOnly = appUserAccess(deps.authenticator);
  const likeSchema = (description: string) => ({
    description,
    security: [{ bearer: [] }],
    params: idParams,
    response: { 204: z.null().describe('Done (also when nothing changed)'), ...problems(401, 403, 404) },
  });
  const likeRoute =
    (change: (id: string, user: string) => Promise<boolean>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const { id } = request.params as { id: string };
      if (!(await deps.content.get(id))) return sendProblem(reply, 404, 'unknown_content', `No content ${id}`);
      await change(id, (request.caller as { appUserId: string }).appUserId);
      return reply.code(204).send(null);
    };
  app.put(
    '/v1/content/:id/like',
    { onRequest: userOnly, schema: likeSchema('Like an item (idempotent)') },
    likeRoute((id, user) => deps.likes.like(id, user)),
  );
  app.delete(
    '/v1/content/:id/like',
    { onRequest: userOnly, schema: likeSchema('Unlike an item (idempotent)') },
    likeRoute((id, user) => deps.likes.unlike(id, user)),
  );
  app.get(
    '/v1/content/:id/likes',
    {
      onRequest: userOnly,
      schema: {
        description: 'How many like an item, and whether the caller does',
        security: [{ bearer: [] }],
        params: idParams,
        response: { 200: z.object({ count: z.number().int(), likedByMe: z.boolean() }), ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      if (!(await deps.content.get(request.params.id))) {
        return sendProblem(reply, 404, 'unknown_content', `No content ${request.params.id}`);
      }
      return deps.likes.countOf(request.params.id, (request.caller as { appUserId: string }).appUserId);
    },
  );
};

/**
 * The caller's scope: the one an edge proved (the request then carries no token), or the
 * one in the caller's scoped token, or none (public content only). A proof or a token
 * that fails is refused (401); so is a direct token where only edges may ask.
 */
async function scopeOf(request: FastifyRequest, deps: ContentRouteDeps): Promise<string[]> {
  const proof = request.headers[EDGE_PROOF_HEADER];
  if (proof !== undefined) {
    const scope = canonicalScope(String(request.headers[SCOPE_HEADER] ?? '').split(' '));
    const proven = { method: request.method, url: request.url, scope };
    await verifyEdgeProof(deps.edge.proofKeys, String(proof), proven, deps.clock.now());
    return scope;
  }
  const token = request.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  if (!token) return [];
  if (!deps.edge.directTokens) {
    throw new EdgeProofRefused('edge_proof_required', 'Ask through the edge: this origin takes no tokens directly');
  }
  return [...(await deps.tokens.verify(token)).scope].sort();
}

function isLocked(item: ContentItem, scope: readonly string[]): boolean {
  return item.requiredEntitlement !== null && !scope.includes(item.requiredEntitlement);
}

function publicPart(item: ContentItem, scope: readonly string[]) {
  return {
    id: item.id,
    kind: item.kind,
    title: item.title,
    summary: item.summary,
    tags: [...item.tags],
    requiredEntitlement: item.requiredEntitlement,
    locked: isLocked(item, scope),
    updatedAt: item.updatedAt.toISOString(),
  };
}

/** Says which scope the answer is for. */
function withScope(reply: FastifyReply, scope: readonly string[]): FastifyReply {
  return reply.header(SCOPE_HEADER, scope.join(' '));
}
