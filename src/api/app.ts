import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type RouteOptions,
} from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { clientErrorHandler, frameworkErrors, installProblemHandlers, type DatabaseOutageLog } from './problems.ts';
import { installRequestHygiene, WITH_BODY } from './request-hygiene.ts';
import { adminAccess, guardOf, identify } from './authorization.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import { problems } from './schemas.ts';
import { appleWebhookRoutes } from './routes/apple-webhook.ts';
import { googleWebhookRoutes, type GoogleWebhookDeps } from './routes/google-webhook.ts';
import { customerRoutes, type CustomerRouteDeps } from './routes/customers.ts';
import { clientConfigRoutes, type ClientConfigRouteDeps } from './routes/client-config.ts';
import { contentRoutes, type ContentRouteDeps } from './routes/content.ts';
import { adminContentRoutes } from './routes/admin-content.ts';
import { adminDeadLetterRoutes, type AdminDeadLetterRouteDeps } from './routes/admin-dead-letters.ts';
import { adminWebhookRoutes, type AdminWebhookRouteDeps } from './routes/admin-webhooks.ts';
import { adminDocumentRoutes } from './routes/admin-documents.ts';
import { adminCustomerRoutes, type AdminCustomerRouteDeps } from './routes/admin-customers.ts';
import { jwksRoutes } from './routes/jwks.ts';
import { tokenRoutes, type TokenRouteDeps } from './routes/tokens.ts';
import type { TokenKeyRing } from '../tokens/token-key-ring.ts';
import { healthRoutes, type Readiness } from './routes/health.ts';
import { consoleRoutes } from './routes/console.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The authenticator the route's guard asks (set from its hooks when it is added). */
    guard?: Authenticator;
  }
  interface FastifyInstance {
    registeredRoutes: readonly { readonly method: string; readonly url: string; readonly hidden: boolean }[];
  }
}

export interface ApiDependencies {
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Requests per minute per client (verified identity, else address) on public routes; 0: no limit. */
  readonly rateLimitPerMinute?: number;
  /** Which proxies' `X-Forwarded-For` to believe for the client's address (fastify's `trustProxy`). */
  readonly trustProxy?: boolean | readonly string[];
  /** How long a client has to send its whole request, headers and body. */
  readonly requestTimeoutMs?: number;
  /** Who may read /metrics and /ready's details: admin API keys (`protected`), or anyone. */
  readonly operatorRoutes?: 'protected' | 'public';
  /** Verifies credentials for the operator routes (admin API keys). */
  readonly authenticator?: Authenticator;
  /** Says once when requests start failing because the database is away; the runtime says when it is back. */
  readonly databaseOutage?: DatabaseOutageLog;
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
  readonly adminWebhooks?: AdminWebhookRouteDeps;
  /** Support staff's view of one customer: history, entitlements at a moment. */
  readonly adminCustomers?: AdminCustomerRouteDeps;
}

/**
 * The HTTP surface. Routes are thin: parse, call one use case, shape the reply. Their
 * zod schemas validate requests, serialize responses and make the OpenAPI document at
 * `/openapi.json` (browsable at `/docs`): the API contract.
 */
export async function buildApi(deps: ApiDependencies): Promise<FastifyInstance> {
  const requestTimeoutMs = deps.requestTimeoutMs ?? 30_000;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new RequestLogsAtDebug(),
    bodyLimit: 256 * 1024,
    // Room for the longest ids the schemas allow (256 characters), percent-encoded: the
    // schemas, not the router, say what is too long, with a problem document.
    routerOptions: { maxParamLength: 1024 },
    // A client that declares a body and sends it slowly, or never, holds a connection:
    // Node's default is five minutes. The stores' webhooks and apps send within seconds.
    requestTimeout: requestTimeoutMs,
    http: {
      // Node enforces the request timeout only when the headers' own is no longer.
      headersTimeout: requestTimeoutMs,
      // Node looks for requests past their time every 30 s by default.
      connectionsCheckingInterval: Math.min(5_000, requestTimeoutMs),
    },
    trustProxy: typeof deps.trustProxy === 'object' ? [...deps.trustProxy] : (deps.trustProxy ?? false),
    frameworkErrors,
    clientErrorHandler,
  });
  installRequestHygiene(app);
  // Every route, as registered: the contract test checks each is in the OpenAPI document.
  const routes: { method: string; url: string; hidden: boolean }[] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url, hidden: Boolean(route.schema?.hide) || route.url.startsWith('/docs') });
    }
    // The rate limit runs first, before the route's guard (so refused credentials count too),
    // and asks the same authenticator the guard does, once per request.
    if (deps.rateLimitPerMinute && isLimited(route.url)) {
      const guard = guardOf(route.onRequest);
      if (guard) route.config = { ...route.config, guard };
      route.onRequest = [app.rateLimit(), ...[route.onRequest ?? []].flat()];
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
  installProblemHandlers(app, deps.databaseOutage);
  if (deps.rateLimitPerMinute) await app.register(rateLimit, rateLimitOptions(deps.rateLimitPerMinute));
  const operatorOnly =
    deps.operatorRoutes === 'public' || !deps.authenticator ? undefined : adminAccess(deps.authenticator);
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
  await app.register(healthRoutes, {
    readiness: deps.readiness,
    ...(deps.authenticator && { authenticator: deps.authenticator }),
    detailsForAll: !operatorOnly,
  });
  const metrics = deps.metrics;
  if (metrics) {
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpRequests.observe(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode },
        reply.elapsedTime / 1000,
      );
    });
    app.get(
      '/metrics',
      {
        ...(operatorOnly && { onRequest: operatorOnly }),
        schema: {
          description: 'Prometheus metrics (for an admin API key unless OPERATOR_ROUTES=public)',
          produces: ['text/plain'],
          ...(operatorOnly && { security: [{ bearer: [] }], response: problems(401, 403) }),
        },
      },
      async (_, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
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
  if (deps.adminWebhooks) await app.register(adminWebhookRoutes, deps.adminWebhooks);
  if (deps.adminCustomers) {
    await app.register(adminCustomerRoutes, deps.adminCustomers);
    await app.register(adminDocumentRoutes, deps.adminCustomers);
  }
  await app.register(consoleRoutes);
  return app;
}

/**
 * The lines fastify logs for every request it receives and answers, at debug rather than
 * info: at thousands of requests a second they would be most of the log. A request that
 * fails is still logged as before: 'request errored' at error here, and by our problem
 * handlers; fastify's other lines (stream and serializer errors) are untouched.
 */
class RequestLogsAtDebug extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) return super.requestCompleted(error, request, reply);
    if (this.isLogDisabled(request)) return;
    reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/**
 * The problems any route can answer besides its own, written into its schema so that
 * the contract says so: 400 when the request has parts to validate, 413 and 415 where
 * a body is read, 429 where the rate limit applies, and 500.
 */
function commonProblems(route: RouteOptions, rateLimited: boolean) {
  const methods = [route.method].flat();
  const readsBody = methods.some((m) => WITH_BODY.has(m));
  const validates = readsBody || Boolean(route.schema?.params || route.schema?.querystring || route.schema?.body);
  const limited = rateLimited && isLimited(route.url);
  return problems(...(validates ? [400] : []), ...(readsBody ? [413, 415] : []), ...(limited ? [429] : []), 500);
}

/** Not limited: the stores' webhooks (they retry, and must not be turned away) and the operators' probes. */
const UNLIMITED = ['/v1/webhooks/', '/health', '/ready', '/metrics', '/docs', '/openapi.json'];
const isLimited = (url: string) => !UNLIMITED.some((prefix) => url.startsWith(prefix));

/**
 * Per client: who it proved to be on routes that check, else its address (behind a
 * trusted proxy, the address the proxy saw). A credential that fails counts against
 * the address, so sending a new made-up one each time buys nothing. Over the limit:
 * 429 `rate_limited` with Retry-After.
 */
function rateLimitOptions(perMinute: number): RateLimitPluginOptions {
  return {
    max: perMinute,
    timeWindow: 60_000,
    keyGenerator: async (request) => {
      const authenticator = request.routeOptions.config.guard;
      if (authenticator) {
        const caller = await identify(authenticator, request).catch(() => undefined);
        if (caller) return caller.kind === 'server' ? `key:${caller.keyId}` : `user:${caller.appUserId}`;
      }
      return `ip:${request.ip}`;
    },
    // Placed on each limited route by hand (see onRoute), first among its hooks.
    global: false,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      message: `More than ${context.max} requests a minute; try again in ${context.after}`,
    }),
  };
}
