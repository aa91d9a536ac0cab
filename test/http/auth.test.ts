import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiToken } from '../../src/config/index.js';
import { bearerAuth, neededRole } from '../../src/http/auth.js';

const ADMIN = 'admin-token-0123456789abcdef';
const READER = 'read-token-0123456789abcdef';
const TOKENS: ApiToken[] = [
  { owner: 'alice', role: 'admin', token: ADMIN },
  { owner: 'bob', role: 'read', token: READER },
];

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('bearerAuth', () => {
  let app: FastifyInstance;
  /** What each handler saw as req.actor. */
  let actors: (string | undefined)[];

  beforeEach(async () => {
    actors = [];
    app = Fastify();
    app.addHook('onRequest', bearerAuth(TOKENS));
    app.post('/admin', { config: { role: 'admin' } }, async (req) => {
      actors.push(req.actor);
      return { actor: req.actor ?? null };
    });
    app.get('/read', { config: { role: 'read' } }, async (req) => {
      actors.push(req.actor);
      return { actor: req.actor ?? null };
    });
    app.get('/open', async (req) => {
      actors.push(req.actor);
      return { open: true };
    });
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
  });

  it('refuses a call without a token with 401 and a www-authenticate challenge', async () => {
    for (const [method, url] of [['POST', '/admin'], ['GET', '/read']] as const) {
      const res = await app.inject({ method, url });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.json()).toMatchObject({ error: 'UNAUTHENTICATED' });
    }
    expect(actors).toEqual([]); // the handlers never ran
  });

  it('refuses an Authorization header that is not a bearer token, or an empty one', async () => {
    for (const authorization of ['Basic YWxpY2U6cHc=', ADMIN, 'Bearer ', 'Bearer    ']) {
      const res = await app.inject({ method: 'GET', url: '/read', headers: { authorization } });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    expect(actors).toEqual([]);
  });

  it('refuses an unknown token with 401 invalid_token', async () => {
    const res = await app.inject({ method: 'GET', url: '/read', headers: bearer('not-a-token-0123456789abcdef') });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(res.json()).toEqual({ error: 'UNAUTHENTICATED', message: 'the token is not valid' });
    expect(actors).toEqual([]);
  });

  it('refuses a token that is a prefix or an extension of a real one', async () => {
    for (const token of [ADMIN.slice(0, -1), ADMIN.slice(0, 8), `${ADMIN}x`, READER.slice(0, -1), ADMIN.toUpperCase()]) {
      const res = await app.inject({ method: 'GET', url: '/read', headers: bearer(token) });
      expect(res.statusCode).toBe(401);
    }
    expect(actors).toEqual([]);
  });

  it('answers 403 to a read token on an admin route, naming the owner', async () => {
    const res = await app.inject({ method: 'POST', url: '/admin', headers: bearer(READER) });
    expect(res.statusCode).toBe(403);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.json()).toEqual({ error: 'FORBIDDEN', message: "this call needs an admin token; bob's token is read-only" });
    expect(actors).toEqual([]);
  });

  it('lets an admin token through an admin route with req.actor set to its owner', async () => {
    const res = await app.inject({ method: 'POST', url: '/admin', headers: bearer(ADMIN) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ actor: 'alice' });
    expect(actors).toEqual(['alice']);
  });

  it('lets a read token and an admin token through a read route', async () => {
    const read = await app.inject({ method: 'GET', url: '/read', headers: bearer(READER) });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual({ actor: 'bob' });
    const admin = await app.inject({ method: 'GET', url: '/read', headers: bearer(ADMIN) });
    expect(admin.statusCode).toBe(200);
    expect(admin.json()).toEqual({ actor: 'alice' });
  });

  it('ignores surrounding spaces after the scheme', async () => {
    const res = await app.inject({ method: 'GET', url: '/read', headers: { authorization: `Bearer   ${READER}  ` } });
    expect(res.statusCode).toBe(200);
  });

  it('accepts the scheme in any case', async () => {
    const res = await app.inject({ method: 'GET', url: '/read', headers: { authorization: `bearer ${READER}` } });
    expect(res.statusCode).toBe(200);
  });

  it('asks nothing on a route without a role, and sets no actor there', async () => {
    for (const headers of [{}, bearer('garbage'), bearer(READER)]) {
      const res = await app.inject({ method: 'GET', url: '/open', headers });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ open: true });
    }
    expect(actors).toEqual([undefined, undefined, undefined]);
  });

  it('leaves unknown routes to the 404 handler', async () => {
    const res = await app.inject({ method: 'GET', url: '/nowhere' });
    expect(res.statusCode).toBe(404);
  });

  it('refuses every token when none is configured', async () => {
    const locked = Fastify();
    locked.addHook('onRequest', bearerAuth([]));
    locked.get('/read', { config: { role: 'read' } }, async () => ({ ok: true }));
    try {
      const res = await locked.inject({ method: 'GET', url: '/read', headers: bearer(READER) });
      expect(res.statusCode).toBe(401);
    } finally {
      await locked.close();
    }
  });
});

describe('the role a route needs', () => {
  it('is its own; under /api, admin unless the route names one or is marked public', () => {
    expect(neededRole('/api/v1/models', { role: 'read' })).toBe('read');
    expect(neededRole('/api/v1/new-thing', {})).toBe('admin');
    expect(neededRole('/api/v1/status', { public: true })).toBeUndefined();
    expect(neededRole('/metrics', {})).toBeUndefined();
    expect(neededRole('/healthz', {})).toBeUndefined();
  });
});
