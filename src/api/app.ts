import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import { createHash } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { installProblemHandlers } from './problems.ts';
import { problems } from './schemas.ts';
import { appleWebhookRoutes } from './routes/apple-webhook.ts';
import { googleWebhookRoutes, type GoogleWebhookDeps } from './routes/google-webhook.ts';
import { customerRoutes, type CustomerRouteDeps } from './routes/customers.ts';
import { clientConfigRoutes, type ClientConfigRouteDeps } from './routes/client-config.ts';
import { contentRoutes, type ContentRouteDeps } from './routes/content.ts';
import { adminContentRoutes } from './routes/admin-content.ts';
import { adminDeadLetterRoutes, type AdminDeadLetterRouteDeps } from './routes/admin-dead-letters.ts';
import { adminCustomerRoutes, type AdminCustomerRouteDeps } from './routes/admin-customers.ts';
import { jwksRoutes } from './routes/jwks.ts';
import { tokenRoutes, type TokenRouteDeps } from './routes/tokens.ts';
import type { TokenKeyRing } from '../tokens/token-key-ring.ts';
import { healthRoutes, type Readiness } from './routes/health.ts';
import { consoleRoutes } from './routes/console.ts';

declare module 'fastify' {
  interface FastifyInstance {
    registeredRoutes: readonly { readonly method: string; readonly url: string; readonly hidden: boolean }[];
  }
}

export interface ApiDependencies {
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Requests per minute per client (credential, else address) on public routes; 0: no limit. */
  readonly rateLimitPerMinute?: number;
  readonly readiness: () => Promise<Readiness>;
  /** The App Store webhook, when the service ingests App Store notifications. */
  readonly apple?: Parameters<typeof appleWebhookRoutes>[1];
  /** The Google Play webhook (real-time developer notifications). */
  readonly google?: GoogleWebhookDeps;
  readonly customers?: CustomerRouteDeps;
  /** Signing keys of scoped tokens, published as a JWKS. */
  readonly tokenKeys?: TokenKeyRing;
  /** Issuing scoped tokens to customers. */
  readonly tokens?: TokenRouteDeps;
  readonly clientConfigs?: ClientConfigRouteDeps;
  readonly content?: ContentRouteDeps;
  /** Support staff's view of the intake queue's dead letters. */
  readonly adminDeadLetters?: AdminDeadLetterRouteDeps;
  /** Support staff's view of one customer: history, entitlements at a moment. */
  readonly adminCustomers?: AdminCustomerRouteDeps;
}

/**
 * The HTTP surface. Routes are thin: parse, call one use case, shape the reply. Their
 * zod schemas validate requests, serialize responses and make the OpenAPI document at
 * `/openapi.json` (browsable at `/docs`): the API contract.
 */
export async function buildApi(deps: ApiDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 256 * 1024,
    // Room for the longest ids the schemas allow (256 characters), percent-encoded: the
    // schemas, not the router, say what is too long, with a problem document.
    routerOptions: { maxParamLength: 1024 },
  });
  // Every route, as registered: the contract test checks each is in the OpenAPI document.
  const routes: { method: string; url: string; hidden: boolean }[] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url, hidden: Boolean(route.schema?.hide) || route.url.startsWith('/docs') });
    }
    if (route.schema && !route.schema.hide) {
      route.schema.response = {
        ...commonProblems(route, Boolean(deps.rateLimitPerMinute)),
        ...(route.schema.response ?? {}),
      };
    }
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app);
  if (deps.rateLimitPerMinute) await app.register(rateLimit, rateLimitOptions(deps.rateLimitPerMinute));
  await app.register(swagger, {
    openapi: {
      info: { title: 'Subledger', version: '0.1.0', description: 'Subscriptions and entitlements for mobile apps' },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: "An app user's access token from your identity provider, or an API key (sl_...)",
          },
          scopedToken: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description:
              'A scoped token from POST /v1/customers/{appUserId}/tokens (optional: none sees public content)',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(healthRoutes, { readiness: deps.readiness });
  const metrics = deps.metrics;
  if (metrics) {
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpRequests.observe(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode },
        reply.elapsedTime / 1000,
      );
    });
    app.get('/metrics', { schema: { description: 'Prometheus metrics', produces: ['text/plain'] } }, async (_, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }
  if (deps.apple) await app.register(appleWebhookRoutes, deps.apple);
  if (deps.google) await app.register(googleWebhookRoutes, deps.google);
  if (deps.customers) await app.register(customerRoutes, deps.customers);
  if (deps.tokenKeys) await app.register(jwksRoutes, { keyRing: deps.tokenKeys });
  if (deps.tokens) await app.register(tokenRoutes, deps.tokens);
  if (deps.clientConfigs) await app.register(clientConfigRoutes, deps.clientConfigs);
  if (deps.content) {
    await app.register(contentRoutes, deps.content);
    await app.register(adminContentRoutes, deps.content);
  }
  if (deps.adminDeadLetters) await app.register(adminDeadLetterRoutes, deps.adminDeadLetters);
  if (deps.adminCustomers) await app.register(adminCustomerRoutes, deps.adminCustomers);
  await app.register(consoleRoutes);
  return app;
}

/** Methods whose requests fastify reads a body of (and may refuse as too large or of an unknown type). */
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The problems any route can answer besides its own, written into its schema so that
 * the contract says so: 400 when the request has parts to validate, 413 and 415 where
 * a body is read, 429 where the rate limit applies, and 500.
 */
function commonProblems(route: RouteOptions, rateLimited: boolean) {
  const methods = [route.method].flat();
  const readsBody = methods.some((m) => WITH_BODY.has(m));
  const validates = readsBody || Boolean(route.schema?.params || route.schema?.querystring || route.schema?.body);
  const limited = rateLimited && !UNLIMITED.some((prefix) => route.url.startsWith(prefix));
  return problems(...(validates ? [400] : []), ...(readsBody ? [413, 415] : []), ...(limited ? [429] : []), 500);
}

/** Not limited: the stores' webhooks (they retry, and must not be turned away) and the operators' probes. */
const UNLIMITED = ['/v1/webhooks/', '/health', '/ready', '/metrics'];

/**
 * Per client: the credential it sends (hashed, so no secret sits in the limiter's
 * memory), else its address. Over the limit: 429 `rate_limited` with Retry-After.
 */
function rateLimitOptions(perMinute: number): RateLimitPluginOptions {
  return {
    max: perMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => {
      const credential = request.headers.authorization;
      return credential
        ? `credential:${createHash('sha256').update(credential).digest('base64url')}`
        : `ip:${request.ip}`;
    },
    allowList: (request) => UNLIMITED.some((prefix) => request.url.startsWith(prefix)),
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      message: `More than ${context.max} requests a minute; try again in ${context.after}`,
    }),
  };
}
