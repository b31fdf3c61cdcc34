import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../observability/logger.ts';
import { healthRoutes, type Readiness } from './routes/health.ts';

export interface ApiDependencies {
  readonly logger: Logger;
  readonly readiness: () => Promise<Readiness>;
}

/** The HTTP surface. Routes are thin: parse, call one use case, shape the reply. */
export async function buildApi(deps: ApiDependencies): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, bodyLimit: 256 * 1024 });
  await app.register(healthRoutes, { readiness: deps.readiness });
  return app;
}
