import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiToken } from '../config/index.js';

export type Role = 'read' | 'admin';

declare module 'fastify' {
  interface FastifyRequest {
    /** The owner of the token that authenticated the request. */
    actor?: string;
  }
  interface FastifyContextConfig {
    /** Least role a route needs. Under /api, a route without one needs admin unless it is `public`. */
    role?: Role;
    /** An /api route anyone may call, on purpose. */
    public?: boolean;
  }
}

/**
 * The role a route needs: its own; under /api, admin when it names none and is not marked public
 * (a route added without thinking about access is closed, not open).
 */
export function neededRole(url: string, config: { role?: Role; public?: boolean }): Role | undefined {
  if (config.role !== undefined) return config.role;
  return url.startsWith('/api/') && config.public !== true ? 'admin' : undefined;
}

function sameSecret(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/**
 * Bearer-token check for the admin API: no or an unknown token is 401, a read token on a route
 * that needs admin is 403. Runs before the body is read, so a refused upload costs nothing.
 */
export function bearerAuth(tokens: readonly ApiToken[]) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const needed = neededRole(req.routeOptions.url ?? req.url, req.routeOptions.config);
    if (needed === undefined) return;
    const header = req.headers.authorization;
    // The scheme name is case-insensitive (RFC 7235).
    const given = /^bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim();
    if (given === undefined || given.length === 0) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'UNAUTHENTICATED', message: 'a bearer token is required' });
      return;
    }
    const match = tokens.find((t) => sameSecret(t.token, given));
    if (match === undefined) {
      await reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'UNAUTHENTICATED', message: 'the token is not valid' });
      return;
    }
    if (needed === 'admin' && match.role !== 'admin') {
      await reply.code(403).send({ error: 'FORBIDDEN', message: `this call needs an admin token; ${match.owner}'s token is read-only` });
      return;
    }
    req.actor = match.owner;
  };
}
