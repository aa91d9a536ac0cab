import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApiToken } from '../config/index.js';
import type { ContractChecker, ModelStore } from '../registry/index.js';
import { adminRoutes } from './admin.js';
import { bearerAuth, type Role } from './auth.js';

export interface Readiness {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export interface HttpDeps {
  readiness: () => Promise<Readiness> | Readiness;
  /** Liveness: 503 once the service failed (default: alive while the process runs). */
  health?: () => { ok: boolean; detail?: string };
  metrics: Registry;
  logger: Logger;
  /** The admin API is served when a store is given. */
  admin?: { store: ModelStore; tokens: readonly ApiToken[]; maxUploadBytes: number; contracts?: ContractChecker | undefined };
  /** Extra routes (e.g. replay jobs), registered after the admin API. */
  plugins?: ((app: FastifyInstance) => Promise<void>)[];
}

/** A route as registered, with the access it declares. */
export interface RouteRecord {
  method: string;
  url: string;
  role?: Role | undefined;
  public?: boolean | undefined;
}

const ROUTES = new WeakMap<FastifyInstance, RouteRecord[]>();

/** Every route of a server built by `buildHttpServer` (for checks that walk them). */
export function registeredRoutes(app: FastifyInstance): readonly RouteRecord[] {
  return ROUTES.get(app) ?? [];
}

/** Health, readiness, metrics, and the admin API with its OpenAPI document at /docs. */
export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
  });
  const routes: RouteRecord[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (r) => {
    const config = (r.config ?? {}) as { role?: Role; public?: boolean };
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, role: config.role, public: config.public });
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'kscore admin API', version: '1', description: 'Model registry, promotion and monitoring of the kscore scoring service.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', logLevel: 'warn' });

  // Probes and scrapes are frequent: their request logs are kept for warnings and errors only.
  const quiet = { logLevel: 'warn' as const, schema: { hide: true } };

  app.get('/healthz', quiet, async (_req, reply) => {
    const h = deps.health?.() ?? { ok: true };
    return h.ok ? { status: 'ok' } : reply.code(503).send({ status: 'failed', detail: h.detail });
  });

  app.get('/readyz', quiet, async (_req, reply) => {
    const r = await deps.readiness();
    return reply.code(r.ready ? 200 : 503).send(r);
  });

  app.get('/metrics', quiet, async (_req, reply) => {
    const body = await deps.metrics.metrics();
    return reply.header('content-type', deps.metrics.contentType).send(body);
  });

  // Every request passes the token check; routes say what they need (auth.ts).
  app.addHook('onRequest', bearerAuth(deps.admin?.tokens ?? []));
  if (deps.admin !== undefined) await adminRoutes(app, { store: deps.admin.store, maxUploadBytes: deps.admin.maxUploadBytes, contracts: deps.admin.contracts });
  for (const plugin of deps.plugins ?? []) await plugin(app);
  return app;
}
