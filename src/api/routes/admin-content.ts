import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Authenticator } from '../../auth/authenticator.ts';
import { contentSeedSchema, type ContentItems } from '../../content/content-items.ts';
import { adminAccess } from '../authorization.ts';
import { sendProblem } from '../problems.ts';
import { problems } from '../schemas.ts';

export interface AdminContentRouteDeps {
  readonly content: ContentItems;
  readonly authenticator: Authenticator;
}

/** The most items one import takes, and the largest bodies. */
const MAX_IMPORT_ITEMS = 1_000;
const PUT_BODY_LIMIT = 1024 * 1024;
const IMPORT_BODY_LIMIT = 8 * 1024 * 1024;

const seedEntry = contentSeedSchema.element;
// As long as the public routes take (GET /v1/content/{id}): an item with a longer id could never be read.
const contentId = seedEntry.shape.id.max(128);
const itemSchema = seedEntry.extend({ id: contentId });
const idParams = z.object({ id: contentId });
const storedItem = z.object({
  id: z.string(),
  kind: z.string(),
  title: z.string(),
  summary: z.string(),
  body: z.string(),
  tags: z.array(z.string()),
  requiredEntitlement: z.string().nullable(),
  updatedAt: z.string().describe('ISO 8601, UTC; moves only when the item changes'),
});
const security = [{ bearer: [] }];

/**
 * Admins manage content items: `PUT /v1/admin/content/{id}`, `POST /v1/admin/content/import`,
 * `DELETE /v1/admin/content/{id}`. The instance that takes a write serves the new item at
 * once; other instances within their content cache's 5 s, and CDNs when their copy expires
 * (`s-maxage`).
 *
 * The admin check runs at `onRequest`, as every guard does, before the body is read:
 * an import may be 8 MiB, and only an admin's is worth parsing and validating.
 */
export const adminContentRoutes: FastifyPluginAsync<AdminContentRouteDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  const adminOnly = adminAccess(deps.authenticator);

  app.put(
    '/v1/admin/content/:id',
    {
      onRequest: adminOnly,
      bodyLimit: PUT_BODY_LIMIT,
      schema: {
        description: 'Creates or replaces a content item (sending it unchanged changes nothing)',
        security,
        params: idParams,
        body: seedEntry.omit({ id: true }),
        response: {
          200: storedItem.describe('Replaced, or already so'),
          201: storedItem.describe('Created'),
          ...problems(400, 401, 403, 413, 422),
        },
      },
    },
    async (request, reply) => {
      const { item, created } = await deps.content.put({ ...request.body, id: request.params.id });
      reply.code(created ? 201 : 200);
      return { ...item, tags: [...item.tags], updatedAt: item.updatedAt.toISOString() };
    },
  );

  app.post(
    '/v1/admin/content/import',
    {
      onRequest: adminOnly,
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        description: `Creates or replaces up to ${MAX_IMPORT_ITEMS} items at once, all or none`,
        security,
        body: z.array(itemSchema).max(MAX_IMPORT_ITEMS).describe('Items as in the seed file'),
        response: {
          200: z.object({ created: z.number().int(), updated: z.number().int(), unchanged: z.number().int() }),
          ...problems(400, 401, 403, 413, 422),
        },
      },
    },
    async (request) => deps.content.import(request.body),
  );

  app.delete(
    '/v1/admin/content/:id',
    {
      onRequest: adminOnly,
      schema: {
        description: 'Deletes a content item and its likes',
        security,
        params: idParams,
        response: { 204: z.null().describe('Deleted'), ...problems(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      if (!(await deps.content.delete(request.params.id))) {
        return sendProblem(reply, 404, 'unknown_content', `No content ${request.params.id}`);
      }
      return reply.code(204).send(null);
    },
  );
};
