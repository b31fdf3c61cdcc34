import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import semver from 'semver';
import { z } from 'zod';
import type { Authenticator } from '../../auth/authenticator.ts';
import { ClientConfigs, clientConfigDocumentSchema, type StoredClientConfig } from '../../clients/client-configs.ts';
import { resolveClientConfig } from '../../domain/client-config.ts';
import { adminAccess } from '../authorization.ts';
import { sendProblem } from '../problems.ts';
import { problems } from '../schemas.ts';
import { renderJson, sendRendered, type RenderedJson } from '../rendered-json.ts';

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
  // Answers rendered per stored document (a new one replaces them) and platform and version.
  const rendered = new WeakMap<StoredClientConfig, Map<string, RenderedJson>>();
  const renderedFor = (stored: StoredClientConfig, platform: 'ios' | 'android', version: string) => {
    let answers = rendered.get(stored);
    if (!answers) rendered.set(stored, (answers = new Map()));
    const key = `${platform} ${version}`;
    let answer = answers.get(key);
    if (!answer) {
      // Versions are the caller's to choose: keep a bounded number of answers.
      if (answers.size >= 1_000) answers.clear();
      const resolved = resolveClientConfig(stored.document, platform, version);
      answer = renderJson(resolvedSchema, { ...resolved, contentKinds: [...resolved.contentKinds] });
      answers.set(key, answer);
    }
    return answer;
  };
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
      const answer = renderedFor(stored, request.query.platform, request.query.version);
      return sendRendered(request, reply, answer, 'public, max-age=60, s-maxage=300');
    },
  );

  app.put(
    '/v1/admin/clients/:clientId/config',
    {
      onRequest: adminAccess(deps.authenticator),
      schema: {
        description: "Replaces a client's configuration document",
        security: [{ bearer: [] }],
        params: clientParams,
        body: clientConfigDocumentSchema,
        response: { 200: clientConfigDocumentSchema, ...problems(400, 401, 403, 422) },
      },
    },
    async (request) => {
      await deps.configs.put(request.params.clientId, request.body);
      return request.body;
    },
  );
};
