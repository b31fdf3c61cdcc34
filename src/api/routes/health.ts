import type { FastifyPluginAsync } from 'fastify';
import type { Readiness } from '../../runtime/readiness.ts';

/**
 * Liveness (the process answers) and readiness (it can do its work: database
 * reachable, schema migrated, projections running). Orchestrators route
 * traffic on /ready and restart on /health.
 */
export const healthRoutes: FastifyPluginAsync<{ readiness: () => Promise<Readiness> }> = async (app, { readiness }) => {
  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    const report = await readiness();
    return reply.code(report.ready ? 200 : 503).send({ status: report.ready ? 'ready' : 'not_ready', ...report });
  });
};
