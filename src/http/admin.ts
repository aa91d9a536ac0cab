import type { FastifyInstance, FastifyReply } from 'fastify';
import type {} from '@fastify/swagger';
import { ModelError, ServiceError } from '../errors.js';
import { registerModel, type ModelStore, type NewModelVersion } from '../registry/index.js';
import type { OutputMapping } from '../scoring/types.js';

export interface AdminDeps {
  store: ModelStore;
  maxUploadBytes: number;
}

const name = { type: 'string', pattern: '^[a-zA-Z0-9._-]{1,128}$' } as const;
const errorBody = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;
const versionMeta = {
  type: 'object',
  additionalProperties: true,
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    sha256: { type: 'string' },
    size: { type: 'integer' },
    createdAt: { type: 'string' },
    createdBy: { type: 'string' },
    description: { type: 'string' },
    features: { type: 'array', items: { type: 'string' } },
  },
} as const;
const outputsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { score: { type: 'string' }, label: { type: 'string' }, probabilities: { type: 'string' } },
} as const;
const read = { role: 'read' as const };
const admin = { role: 'admin' as const };
const security = [{ bearer: [] }];

/** HTTP status for a registry error: unknown things are 404, refused models 422, the rest 503/500. */
function fail(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof ModelError) {
    const status = err.code === 'MODEL_VERSION_UNKNOWN' || err.code === 'MODEL_NO_PREVIOUS' ? (err.code === 'MODEL_NO_PREVIOUS' ? 409 : 404) : err.canRetry ? 503 : 422;
    return reply.code(status).send({ error: err.code, message: err.message });
  }
  if (err instanceof ServiceError) return reply.code(err.canRetry ? 503 : 500).send({ error: err.code, message: err.message });
  throw err;
}

/**
 * The admin API under /api/v1: upload versions, list models, versions and aliases, promote,
 * roll back, split traffic, read the audit log. Every call needs a bearer token; writes need admin.
 */
export async function adminRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  const { store } = deps;

  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: deps.maxUploadBytes }, (_req, body, done) => {
    done(null, body);
  });

  app.get('/api/v1/models', {
    config: read,
    schema: {
      summary: 'List models with their aliases',
      tags: ['models'],
      security,
      response: { 200: { type: 'array', items: { type: 'object', additionalProperties: true } } },
    },
  }, async () => {
    const names = await store.listModels();
    return Promise.all(names.map(async (n) => ({ name: n, ...(await store.routing(n)), versions: (await store.listVersions(n)).length })));
  });

  app.get<{ Params: { name: string } }>('/api/v1/models/:name', {
    config: read,
    schema: { summary: 'A model: versions, aliases, traffic split', tags: ['models'], security, params: { type: 'object', properties: { name } } },
  }, async (req, reply) => {
    const versions = await store.listVersions(req.params.name);
    if (versions.length === 0) return reply.code(404).send({ error: 'MODEL_UNKNOWN', message: `no model named ${req.params.name}` });
    return { name: req.params.name, ...(await store.routing(req.params.name)), versions };
  });

  app.get<{ Params: { name: string; version: string } }>('/api/v1/models/:name/versions/:version', {
    config: read,
    schema: { summary: 'One version', tags: ['models'], security, response: { 200: versionMeta, 404: errorBody } },
  }, async (req, reply) => {
    const meta = await store.getMeta(req.params.name, req.params.version);
    return meta ?? reply.code(404).send({ error: 'MODEL_VERSION_UNKNOWN', message: `model ${req.params.name} has no version ${req.params.version}` });
  });

  app.post<{
    Params: { name: string };
    Querystring: { features?: string; description?: string; alias?: string; score?: string; label?: string; probabilities?: string };
    Body: Buffer | { onnx: string; features: string[]; outputs?: OutputMapping; description?: string; alias?: string; metrics?: Record<string, number>; baseline?: NewModelVersion['baseline'] };
  }>('/api/v1/models/:name/versions', {
    config: admin,
    bodyLimit: deps.maxUploadBytes,
    schema: {
      summary: 'Upload a new version',
      description:
        'Either the ONNX bytes as application/octet-stream with ?features=a,b,c (and optional description, alias, score/label/probabilities output names), ' +
        'or JSON {onnx: base64, features, outputs?, description?, alias?, metrics?, baseline?}. The model is loaded and test-scored before anything is stored.',
      tags: ['models'],
      security,
      params: { type: 'object', properties: { name } },
      querystring: {
        type: 'object',
        properties: {
          features: { type: 'string' },
          description: { type: 'string' },
          alias: name,
          score: { type: 'string' },
          label: { type: 'string' },
          probabilities: { type: 'string' },
        },
      },
      response: { 201: versionMeta, 400: errorBody, 413: errorBody, 422: errorBody },
    },
  }, async (req, reply) => {
    let input: NewModelVersion;
    let alias: string | undefined;
    if (Buffer.isBuffer(req.body)) {
      const q = req.query;
      if (q.features === undefined) return reply.code(400).send({ error: 'FEATURES_REQUIRED', message: 'pass the feature names as ?features=a,b,c' });
      const outputs: { score?: string; label?: string; probabilities?: string } = {};
      if (q.score) outputs.score = q.score;
      if (q.label) outputs.label = q.label;
      if (q.probabilities) outputs.probabilities = q.probabilities;
      input = {
        bytes: req.body,
        features: q.features.split(',').map((f) => f.trim()),
        ...(Object.keys(outputs).length > 0 ? { outputs } : {}),
        ...(q.description === undefined ? {} : { description: q.description }),
      };
      alias = q.alias;
    } else {
      const b = req.body;
      if (typeof b?.onnx !== 'string' || !Array.isArray(b.features)) {
        return reply.code(400).send({ error: 'BAD_UPLOAD', message: 'JSON uploads need "onnx" (base64) and "features" (array of names)' });
      }
      input = {
        bytes: Buffer.from(b.onnx, 'base64'),
        features: b.features,
        ...(b.outputs ? { outputs: b.outputs } : {}),
        ...(b.description === undefined ? {} : { description: b.description }),
        ...(b.metrics ? { metrics: b.metrics } : {}),
        ...(b.baseline ? { baseline: b.baseline } : {}),
      };
      alias = b.alias;
    }
    try {
      const meta = await registerModel(store, req.params.name, input, { actor: req.actor ?? 'unknown', ...(alias ? { alias } : {}) });
      return await reply.code(201).send(meta);
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.put<{ Params: { name: string; alias: string }; Body: { version: string } }>('/api/v1/models/:name/aliases/:alias', {
    config: admin,
    schema: {
      summary: 'Promote: point an alias at a version',
      tags: ['aliases'],
      security,
      params: { type: 'object', properties: { name, alias: name } },
      body: { type: 'object', required: ['version'], properties: { version: { type: 'string', pattern: '^[0-9]+$' } } },
      response: { 200: { type: 'object', properties: { model: { type: 'string' }, alias: { type: 'string' }, version: { type: 'string' } } }, 404: errorBody },
    },
  }, async (req, reply) => {
    try {
      await store.setAlias(req.params.name, req.params.alias, req.body.version, req.actor ?? 'unknown');
      return { model: req.params.name, alias: req.params.alias, version: req.body.version };
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.post<{ Params: { name: string; alias: string } }>('/api/v1/models/:name/aliases/:alias/rollback', {
    config: admin,
    schema: {
      summary: 'Roll an alias back to the version it had before its last change',
      tags: ['aliases'],
      security,
      response: { 200: { type: 'object', properties: { model: { type: 'string' }, alias: { type: 'string' }, version: { type: 'string' } } }, 409: errorBody },
    },
  }, async (req, reply) => {
    try {
      const version = await store.rollbackAlias(req.params.name, req.params.alias, req.actor ?? 'unknown');
      return { model: req.params.name, alias: req.params.alias, version };
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.delete<{ Params: { name: string; alias: string } }>('/api/v1/models/:name/aliases/:alias', {
    config: admin,
    schema: { summary: 'Remove an alias (e.g. end a shadow)', tags: ['aliases'], security },
  }, async (req, reply) => {
    await store.deleteAlias(req.params.name, req.params.alias, req.actor ?? 'unknown');
    return reply.code(204).send();
  });

  app.put<{ Params: { name: string }; Body: { alias: string; share: number } }>('/api/v1/models/:name/split', {
    config: admin,
    schema: {
      summary: 'Route a deterministic share of event keys to another alias (a canary)',
      tags: ['aliases'],
      security,
      body: { type: 'object', required: ['alias', 'share'], properties: { alias: name, share: { type: 'number', minimum: 0, maximum: 1 } } },
    },
  }, async (req, reply) => {
    const { aliases } = await store.routing(req.params.name);
    if (aliases[req.body.alias] === undefined) {
      return reply.code(404).send({ error: 'ALIAS_UNKNOWN', message: `model ${req.params.name} has no alias ${req.body.alias}; set it first` });
    }
    await store.setSplit(req.params.name, { alias: req.body.alias, share: req.body.share }, req.actor ?? 'unknown');
    return { model: req.params.name, ...req.body };
  });

  app.delete<{ Params: { name: string } }>('/api/v1/models/:name/split', {
    config: admin,
    schema: { summary: 'End the traffic split', tags: ['aliases'], security },
  }, async (req, reply) => {
    await store.setSplit(req.params.name, undefined, req.actor ?? 'unknown');
    return reply.code(204).send();
  });

  app.get<{ Querystring: { model?: string; limit?: number } }>('/api/v1/audit', {
    config: read,
    schema: {
      summary: 'The audit log, newest first',
      tags: ['audit'],
      security,
      querystring: { type: 'object', properties: { model: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } } },
    },
  }, async (req) => store.audit({ ...(req.query.model ? { model: req.query.model } : {}), limit: req.query.limit ?? 100 }));
}
