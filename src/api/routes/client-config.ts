import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import semver from 'semver';
import { z } from 'zod';
import type { Authenticator } from '../../auth/authenticator.ts';
import { ClientConfigs, clientConfigDocumentSchema, InvalidClientConfig } from '../../clients/client-configs.ts';
import { resolveClientConfig } from '../../domain/client-config.ts';
import { adminAccess } from '../authorization.ts';
import { sendProblem } from '../problems.ts';
import { problems } from '../schemas.ts';

export interface ClientConfigRouteDeps {
  readonly configs: ClientConfigs;
  readonly authenticator: Authenticator;
}

const clientParams = z.object({ clientId: z.string().min(1).max(128) });
const query = z.object({
  platform: z.enum(['ios', 'android']),
  version: z.string().refine((v) => semver.valid(v) !== null, 'a version like 1.9.3'),
});
const resolvedSchema = z.object({
  platform: z.enum(['ios', 'android']),
  version: z.string(),
  flags: z.record(z.string(), z.boolean()),
  offering: z.string().optional(),
  contentKinds: z.array(z.string()),
  minimumVersion: z.string().nullable(),
  forceUpdate: z.boolean().describe('This version is older than the minimum: the app must update'),
});

/**
 * `GET /v1/clients/{clientId}/config?platform=ios&version=1.9.3`: public, the same for
 * every user of an app version, so shared caches and CDNs keep it (ETag, s-maxage).
 * `PUT /v1/admin/clients/{clientId}/config`: an admin replaces the document.
 */
export const clientConfigRoutes: FastifyPluginAsync<ClientConfigRouteDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/v1/clients/:clientId/config',
    {
      schema: {
        description: 'The configuration an app version should use',
        params: clientParams,
        querystring: query,
        response: { 200: resolvedSchema, 304: z.null().describe('Not modified'), ...problems(400, 404) },
      },
    },
    async (request, reply) => {
      const stored = await deps.configs.get(request.params.clientId);
      if (!stored) return sendProblem(reply, 404, 'unknown_client', `No configuration for ${request.params.clientId}`);
      const resolved = resolveClientConfig(stored.document, request.query.platform, request.query.version);
      const etag = `"${createHash('sha256').update(JSON.stringify(resolved)).digest('base64url')}"`;
      reply.header('etag', etag).header('cache-control', 'public, max-age=60, s-maxage=300');
      if (request.headers['if-none-match'] === etag) return reply.code(304).send(null);
      return { ...resolved, contentKinds: [...resolved.contentKinds] };
    },
  );

  app.put(
    '/v1/admin/clients/:clientId/config',
    {
      preHandler: adminAccess(deps.authenticator),
      schema: {
        description: "Replaces a client's configuration document",
        security: [{ bearer: [] }],
        params: clientParams,
        body: clientConfigDocumentSchema,
        response: { 200: clientConfigDocumentSchema, ...problems(400, 401, 403, 422) },
      },
    },
    async (request, reply) => {
      try {
        await deps.configs.put(request.params.clientId, request.body);
      } catch (error) {
        if (!(error instanceof InvalidClientConfig)) throw error;
        return sendProblem(reply, 422, 'invalid_config', error.message);
      }
      return request.body;
    },
  );
};
