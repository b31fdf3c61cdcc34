import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthenticationFailed, type Authenticator, type Caller } from '../auth/authenticator.ts';
import { sendProblem } from './problems.ts';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

/**
 * A preHandler for routes about one customer (`:appUserId`): the app user themself,
 * or a server with an API key. Anyone else gets 401 (who are you?) or 403 (not yours).
 */
export function customerAccess(authenticator: Authenticator) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    let caller: Caller;
    try {
      caller = await authenticator.authenticate(request.headers.authorization);
    } catch (error) {
      if (!(error instanceof AuthenticationFailed)) throw error;
      reply.header('www-authenticate', 'Bearer');
      return sendProblem(reply, 401, error.code, error.message);
    }
    const { appUserId } = request.params as { appUserId?: string };
    if (caller.kind === 'app_user' && caller.appUserId !== appUserId) {
      return sendProblem(reply, 403, 'forbidden', 'An app user can only reach their own customer');
    }
    request.caller = caller;
  };
}

/** A preHandler for admin routes: a server with an API key of the `admin` role. */
export function adminAccess(authenticator: Authenticator) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    let caller: Caller;
    try {
      caller = await authenticator.authenticate(request.headers.authorization);
    } catch (error) {
      if (!(error instanceof AuthenticationFailed)) throw error;
      reply.header('www-authenticate', 'Bearer');
      return sendProblem(reply, 401, error.code, error.message);
    }
    if (caller.kind !== 'server' || caller.role !== 'admin') {
      return sendProblem(reply, 403, 'forbidden', 'This route needs an API key with the admin role');
    }
    request.caller = caller;
  };
}

/** A preHandler for what an app user does as themself (likes): an app user's access token. */
export function appUserAccess(authenticator: Authenticator) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    let caller: Caller;
    try {
      caller = await authenticator.authenticate(request.headers.authorization);
    } catch (error) {
      if (!(error instanceof AuthenticationFailed)) throw error;
      reply.header('www-authenticate', 'Bearer');
      return sendProblem(reply, 401, error.code, error.message);
    }
    if (caller.kind !== 'app_user') return sendProblem(reply, 403, 'forbidden', 'Only an app user can do this');
    request.caller = caller;
  };
}
