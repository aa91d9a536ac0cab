import type { FastifyInstance, FastifyReply } from 'fastify';
import type {} from '@fastify/swagger';
import { NAME_PATTERN } from '../config/names.js';
import { sendError } from './errors.js';
import { promoteVersion, registerModel, type ContractChecker, type ModelStore, type NewModelVersion } from '../registry/index.js';
import type { OutputMapping } from '../scoring/types.js';

export interface AdminDeps {
  store: ModelStore;
  maxUploadBytes: number;
  /** Schema contracts checked at upload and promotion (absent: none). */
  contracts?: ContractChecker | undefined;
}

const name = { type: 'string', pattern: NAME_PATTERN.source } as const;
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
  properties: { score: { type: 'string' }, label: { type: 'string' }, probabilities: { type: 'string' }, positiveClass: { type: 'string' } },
} as const;
const read = { role: 'read' as const };
const admin = { role: 'admin' as const };
const security = [{ bearer: [] }];

type UploadQuery = { features?: string; description?: string; alias?: string; score?: string; label?: string; probabilities?: string; positiveClass?: string; override?: string };
type UploadJson = {
  onnx: string;
  features?: string[];
  inputs?: NewModelVersion['inputs'];
  outputs?: OutputMapping;
  description?: string;
  alias?: string;
  metrics?: Record<string, number>;
  baseline?: NewModelVersion['baseline'];
  override?: string;
};
/** A reason to go ahead despite a schema contract's mismatches (recorded in the audit log). */
const override = { type: 'string', minLength: 1, maxLength: 1000 } as const;

/**
 * The admin API under /api/v1: upload versions, list models, versions and aliases, promote,
 * roll back, split traffic, read the audit log. Every call needs a bearer token; writes need admin.
 */
export async function adminRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: deps.maxUploadBytes }, (_req, body, done) => {
    done(null, body);
  });
  modelReads(app, deps.store);
  uploads(app, deps);
  aliases(app, deps);
  split(app, deps);
  app.get<{ Querystring: { model?: string; schedule?: string; limit?: number } }>('/api/v1/audit', {
    config: read,
    schema: {
      summary: 'The audit log, newest first: model changes, replays into the live topic, schedule changes',
      tags: ['audit'],
      security,
      querystring: {
        type: 'object',
        properties: { model: { type: 'string' }, schedule: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } },
      },
    },
  }, async (req) =>
    deps.store.audit({
      ...(req.query.model ? { model: req.query.model } : {}),
      ...(req.query.schedule ? { schedule: req.query.schedule } : {}),
      limit: req.query.limit ?? 100,
    }),
  );
}

function modelReads(app: FastifyInstance, store: ModelStore): void {
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
}

function uploads(app: FastifyInstance, deps: AdminDeps): void {
  app.post<{ Params: { name: string }; Querystring: UploadQuery; Body: Buffer | UploadJson }>('/api/v1/models/:name/versions', {
    config: admin,
    bodyLimit: deps.maxUploadBytes,
    schema: {
      summary: 'Upload a new version',
      description:
        'Either the ONNX bytes as application/octet-stream with ?features=a,b,c (and optional description, alias, score/label/probabilities output names, positiveClass), ' +
        'or JSON {onnx: base64, features?, inputs?, outputs?, description?, alias?, metrics?, baseline?}. The model\'s inputs and their types are read from it: ' +
        '`features` fill its one input (or name its one-column inputs), `inputs` maps input names to the event fields that fill them ({"num": ["a", "b"]}); ' +
        'without either, each one-column input takes the field of its name. The model is loaded and test-scored before anything is stored, ' +
        'and held against the schema of each topic it would score (schema contracts): a mismatch refuses it with 409 unless `override` gives a reason to go ahead.',
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
          positiveClass: { type: 'string' },
          override,
        },
      },
      response: { 201: versionMeta, 400: errorBody, 409: errorBody, 413: errorBody, 422: errorBody },
    },
  }, async (req, reply) => {
    const upload = Buffer.isBuffer(req.body) ? fromBytes(req.body, req.query) : fromJson(req.body);
    if ('error' in upload) return reply.code(400).send(upload);
    try {
      const meta = await registerModel(deps.store, req.params.name, upload.input, {
        actor: req.actor ?? 'unknown',
        contracts: deps.contracts,
        override: upload.override,
        ...(upload.alias ? { alias: upload.alias } : {}),
      });
      return await reply.code(201).send(meta);
    } catch (err) {
      return sendError(reply, err);
    }
  });
}

type Upload = { input: NewModelVersion; alias: string | undefined; override: string | undefined } | { error: string; message: string };

/** An upload of the raw bytes, its features and outputs in the query. */
function fromBytes(bytes: Buffer, q: UploadQuery): Upload {
  const outputs: { score?: string; label?: string; probabilities?: string; positiveClass?: string } = {};
  if (q.score) outputs.score = q.score;
  if (q.label) outputs.label = q.label;
  if (q.probabilities) outputs.probabilities = q.probabilities;
  if (q.positiveClass !== undefined) outputs.positiveClass = q.positiveClass;
  const input: NewModelVersion = {
    bytes,
    ...(q.features === undefined ? {} : { features: q.features.split(',').map((f) => f.trim()) }),
    ...(Object.keys(outputs).length > 0 ? { outputs } : {}),
    ...(q.description === undefined ? {} : { description: q.description }),
  };
  return { input, alias: q.alias, override: q.override };
}

/** An upload as JSON, the bytes in base64. */
function fromJson(b: UploadJson | undefined): Upload {
  if (typeof b?.onnx !== 'string' || (b.features !== undefined && !Array.isArray(b.features)) || (b.inputs !== undefined && !isMapping(b.inputs)) || !isReason(b.override)) {
    return { error: 'BAD_UPLOAD', message: 'JSON uploads need "onnx" (base64), and "features" is an array of names, "inputs" an object of arrays of names, "override" a non-empty reason' };
  }
  const input: NewModelVersion = {
    bytes: Buffer.from(b.onnx, 'base64'),
    ...(b.features === undefined ? {} : { features: b.features }),
    ...(b.inputs === undefined ? {} : { inputs: b.inputs }),
    ...(b.outputs ? { outputs: b.outputs } : {}),
    ...(b.description === undefined ? {} : { description: b.description }),
    ...(b.metrics ? { metrics: b.metrics } : {}),
    ...(b.baseline ? { baseline: b.baseline } : {}),
  };
  return { input, alias: b.alias, override: b.override };
}

function isReason(v: unknown): v is string | undefined {
  return v === undefined || (typeof v === 'string' && v.length > 0 && v.length <= 1000);
}

function isMapping(v: unknown): v is NewModelVersion['inputs'] {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((f) => Array.isArray(f) && f.every((x) => typeof x === 'string'));
}

const contractReport = {
  type: 'object',
  properties: {
    topic: { type: 'string' },
    subject: { type: 'string' },
    version: { type: 'integer' },
    mismatches: { type: 'array', items: { type: 'string' } },
    notes: { type: 'array', items: { type: 'string' } },
  },
} as const;
const aliasAnswer = {
  type: 'object',
  properties: { model: { type: 'string' }, alias: { type: 'string' }, version: { type: 'string' }, contracts: { type: 'array', items: contractReport } },
} as const;

/** Promotion, rollback and removal of a model's aliases. */
function aliases(app: FastifyInstance, deps: AdminDeps): void {
  const { store } = deps;
  app.put<{ Params: { name: string; alias: string }; Body: { version: string; override?: string } }>('/api/v1/models/:name/aliases/:alias', {
    config: admin,
    schema: {
      summary: 'Promote: point an alias at a version',
      description: 'The version is held against the schema of each topic it would score first (schema contracts): a mismatch refuses the promotion with 409 unless `override` gives a reason to go ahead (audited).',
      tags: ['aliases'],
      security,
      params: { type: 'object', properties: { name, alias: name } },
      body: { type: 'object', required: ['version'], properties: { version: { type: 'string', pattern: '^[0-9]+$' }, override } },
      response: { 200: aliasAnswer, 404: errorBody, 409: errorBody },
    },
  }, async (req, reply) => {
    const { name: model, alias } = req.params;
    try {
      const contracts = await promoteVersion(store, deps.contracts, { model, alias, version: req.body.version, actor: req.actor ?? 'unknown', override: req.body.override });
      return { model, alias, version: req.body.version, contracts };
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.post<{ Params: { name: string; alias: string } }>('/api/v1/models/:name/aliases/:alias/rollback', {
    config: admin,
    schema: { summary: 'Roll an alias back to the version it had before its last change', tags: ['aliases'], security, response: { 200: aliasAnswer, 409: errorBody } },
  }, async (req, reply) => {
    try {
      const version = await store.rollbackAlias(req.params.name, req.params.alias, req.actor ?? 'unknown');
      return { model: req.params.name, alias: req.params.alias, version };
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.delete<{ Params: { name: string; alias: string } }>('/api/v1/models/:name/aliases/:alias', {
    config: admin,
    schema: { summary: 'Remove an alias (e.g. end a shadow)', tags: ['aliases'], security },
  }, async (req, reply) => {
    await store.deleteAlias(req.params.name, req.params.alias, req.actor ?? 'unknown');
    return reply.code(204).send();
  });
}

/** The canary split of a model's traffic: set and end. */
function split(app: FastifyInstance, { store }: AdminDeps): void {
  app.put<{ Params: { name: string }; Body: { alias: string; share: number } }>('/api/v1/models/:name/split', {
    config: admin,
    schema: {
      summary: 'Route a deterministic share of event keys to another alias (a canary)',
      tags: ['aliases'],
      security,
      body: { type: 'object', required: ['alias', 'share'], properties: { alias: name, share: { type: 'number', minimum: 0, maximum: 1 } } },
    },
  }, async (req, reply) => {
    const { aliases: current } = await store.routing(req.params.name);
    if (current[req.body.alias] === undefined) {
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
}
