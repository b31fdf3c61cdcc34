import type { FastifyRequest } from 'fastify';
import type { Authenticator, Caller } from '../auth/authenticator.ts';
import { Refusal } from '../domain/refusal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

/**
 * Hooks that authenticate the caller and apply one rule. Anyone else gets 401 (who
 * are you?) or 403 (not for you), with a code. Routes run them `onRequest`, before the
 * body is read: a stranger's body is not worth parsing, and the answer to a stranger
 * is 401 whatever they sent.
 */
type Rule = (caller: Caller, request: FastifyRequest) => string | undefined;

function guard(authenticator: Authenticator, rule: Rule) {
  const hook = async (request: FastifyRequest) => {
    const caller = await identify(authenticator, request);
    const refusal = rule(caller, request);
    if (refusal) throw new Refusal('forbidden', 'forbidden', refusal);
    request.caller = caller;
  };
  return Object.assign(hook, { [GUARDED]: authenticator });
}

/** Marks a guard hook with the authenticator it asks: the rate limit asks the same one first. */
const GUARDED = Symbol('guarded by');

/** The authenticator a route's guard asks, if the route has one. */
export function guardOf(hooks: unknown): Authenticator | undefined {
  for (const hook of [hooks].flat()) {
    const authenticator = (hook as { [GUARDED]?: Authenticator } | undefined)?.[GUARDED];
    if (authenticator) return authenticator;
  }
  return undefined;
}

const identities = new WeakMap<FastifyRequest, Promise<Caller>>();

/** Who the request proves to be, asked once per request (the rate limit and the guard both need it). */
export function identify(authenticator: Authenticator, request: FastifyRequest): Promise<Caller> {
  let identity = identities.get(request);
  if (!identity) {
    identity = authenticator.authenticate(request.headers.authorization);
    identities.set(request, identity);
  }
  return identity;
}

/** Routes about one customer (`:appUserId`): the app user themself, or a server with an API key. */
export const customerAccess = (authenticator: Authenticator) =>
  guard(authenticator, (caller, request) => {
    const { appUserId } = request.params as { appUserId?: string };
    return caller.kind === 'app_user' && caller.appUserId !== appUserId
      ? 'An app user can only reach their own customer'
      : undefined;
  });

/** Admin routes: a server with an API key of the `admin` role. */
export const adminAccess = (authenticator: Authenticator) =>
  guard(authenticator, (caller) => (isAdmin(caller) ? undefined : 'This route needs an API key with the admin role'));

/** Support staff and operators: a server calling with an API key of the `admin` role. */
export const isAdmin = (caller: Caller) => caller.kind === 'server' && caller.role === 'admin';

/** What an app user does as themself (likes): an app user's access token. */
export const appUserAccess = (authenticator: Authenticator) =>
  guard(authenticator, (caller) => (caller.kind === 'app_user' ? undefined : 'Only an app user can do this'));
