import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ApiToken } from '../config/index.js';
import type { ModelStore } from '../registry/index.js';
import { adminRoutes } from './admin.js';
import { bearerAuth } from './auth.js';

export interface Readiness {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export interface HttpDeps {
  readiness: () => Promise<Readiness> | Readiness;
  metrics: Registry;
  logger: Logger;
  /** The admin API is served when a store is given. */
  admin?: { store: ModelStore; tokens: readonly ApiToken[]; maxUploadBytes: number };
  /** Extra routes (e.g. replay jobs), registered after the admin API. */
  plugins?: ((app: FastifyInstance) => Promise<void>)[];
}

/** Health, readiness, metrics, and the admin API with its OpenAPI document at /docs. */
export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
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

  app.get('/healthz', quiet, async () => ({ status: 'ok' }));

  app.get('/readyz', quiet, async (_req, reply) => {
    const r = await deps.readiness();
    return reply.code(r.ready ? 200 : 503).send(r);
  });

  app.get('/metrics', quiet, async (_req, reply) => {
    const body = await deps.metrics.metrics();
    return reply.header('content-type', deps.metrics.contentType).send(body);
  });

  if (deps.admin !== undefined) {
    app.addHook('onRequest', bearerAuth(deps.admin.tokens));
    await adminRoutes(app, { store: deps.admin.store, maxUploadBytes: deps.admin.maxUploadBytes });
  }
  for (const plugin of deps.plugins ?? []) await plugin(app);
  return app;
}
