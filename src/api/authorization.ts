import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthenticationFailed, type Authenticator, type Caller } from '../auth/authenticator.ts';
import { sendProblem } from './problems.ts';

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
  return async (request: FastifyRequest, reply: FastifyReply) => {
    let caller: Caller;
    try {
      caller = await authenticator.authenticate(request.headers.authorization);
    } catch (error) {
      if (!(error instanceof AuthenticationFailed)) throw error;
      reply.header('www-authenticate', 'Bearer');
      return sendProblem(reply, 401, error.code, error.message);
    }
    const refusal = rule(caller, request);
    if (refusal) return sendProblem(reply, 403, 'forbidden', refusal);
    request.caller = caller;
  };
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
  guard(authenticator, (caller) =>
    caller.kind === 'server' && caller.role === 'admin' ? undefined : 'This route needs an API key with the admin role',
  );

/** What an app user does as themself (likes): an app user's access token. */
export const appUserAccess = (authenticator: Authenticator) =>
  guard(authenticator, (caller) => (caller.kind === 'app_user' ? undefined : 'Only an app user can do this'));
