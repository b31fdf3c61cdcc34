import { readFile } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import { sendProblem } from '../problems.ts';

/** The console's files, by the name the page asks for; nothing else in the folder is served. */
const ASSETS: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'timeline-chart.js': 'text/javascript; charset=utf-8',
  'time-axis.js': 'text/javascript; charset=utf-8',
  'timeline.js': 'text/javascript; charset=utf-8',
  'page.js': 'text/javascript; charset=utf-8',
  'purchases.js': 'text/javascript; charset=utf-8',
  'document-view.js': 'text/javascript; charset=utf-8',
  'customer-actions.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};
const FOLDER = new URL('../../console/', import.meta.url);

// The page talks only to this service: no inline script, nothing from elsewhere.
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The support console: a static page and its scripts, which call the admin API with the
 * admin key the staff member types in. The routes need no credential (the page is the
 * same for everyone) and are left out of the OpenAPI document: they are not the API.
 */
export const consoleRoutes: FastifyPluginAsync = async (app) => {
  const files = new Map(
    await Promise.all(
      Object.entries(ASSETS).map(
        async ([name, type]) => [name, { type, body: await readFile(new URL(name, FOLDER)) }] as const,
      ),
    ),
  );
  const headers = {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  };

  app.get('/console', { schema: { hide: true } }, async (_request, reply) => {
    const page = files.get('index.html')!;
    return reply.headers(headers).type(page.type).send(page.body);
  });
  app.get<{ Params: { file: string } }>('/console/:file', { schema: { hide: true } }, async (request, reply) => {
    const asset = request.params.file === 'index.html' ? undefined : files.get(request.params.file);
    if (!asset) return sendProblem(reply, 404, 'not_found', `No console file ${request.params.file}`);
    return reply.headers(headers).type(asset.type).send(asset.body);
  });
};
