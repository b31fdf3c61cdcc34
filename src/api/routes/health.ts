import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Authenticator } from '../../auth/authenticator.ts';
import { identify, isAdmin } from '../authorization.ts';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** What /ready reports; the runtime computes it. */
export interface Readiness {
  readonly ready: boolean;
  readonly database: {
    readonly reachable: boolean;
    readonly schemaVersion?: number;
    readonly expectedSchemaVersion: number;
    /**
     * Age of the oldest transaction holding a transaction id on the server, any database.
     * Readers see no event committed after it began (that is what keeps them gap-free),
     * so a long one holds every projection back by that much.
     */
    readonly oldestWriteTransactionSeconds?: number;
    readonly error?: string;
  };
  readonly projections: readonly {
    readonly name: string;
    readonly running: boolean;
    readonly checkpoint: string;
    /** Age of the oldest event not yet applied; 0 when caught up. */
    readonly lagSeconds?: number;
    readonly failing?: { readonly since: string; readonly error: string; readonly attempts: number };
  }[];
}

export interface HealthRouteDeps {
  readonly readiness: () => Promise<Readiness>;
  /** True: everyone sees the report's details; else only an admin API key does, others the status alone. */
  readonly detailsForAll: boolean;
  readonly authenticator?: Authenticator;
}

/**
 * Liveness (the process answers) and readiness (it can do its work: database
 * reachable, schema migrated, projections running). Orchestrators route
 * traffic on /ready and restart on /health. The details (database errors,
 * checkpoints) are for operators: they name our internals.
 */
export const healthRoutes: FastifyPluginAsync<HealthRouteDeps> = async (app, deps) => {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    '/health',
    { schema: { description: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  const readinessSchema = z.looseObject({ status: z.enum(['ready', 'not_ready']) });
  typed.get(
    '/ready',
    {
      schema: {
        description: 'Readiness: database, schema, projections',
        response: { 200: readinessSchema, 503: readinessSchema },
      },
    },
    async (request, reply) => {
      const report = await deps.readiness();
      const status = report.ready ? ('ready' as const) : ('not_ready' as const);
      const details = deps.detailsForAll || (await isOperator(request, deps.authenticator));
      return reply.code(report.ready ? 200 : 503).send(details ? { status, ...report } : { status });
    },
  );
};

async function isOperator(request: FastifyRequest, authenticator: Authenticator | undefined): Promise<boolean> {
  if (!authenticator || !request.headers.authorization) return false;
  const caller = await identify(authenticator, request).catch(() => undefined);
  return caller !== undefined && isAdmin(caller);
}
