import type { FastifyInstance, FastifyReply } from 'fastify';
import type {} from '@fastify/swagger';
import { ServiceError, errorMessage } from '../errors.js';
import type { ModelStore } from '../registry/index.js';
import { OnnxScorer } from '../scoring/onnx-scorer.js';
import { InferRequestError, feedsOf, inputsOf, oipTensor, outputsOf, requestedOutputs, tensorMetadata } from './inference-tensors.js';

export interface InferenceDeps {
  models: Pick<ModelStore, 'getVersion' | 'listVersions' | 'resolveAlias' | 'listModels'>;
  /** The alias a request without a version is served by: the model's own in the routes, else KSCORE_MODEL_ALIAS. */
  aliasOf(model: string): string;
  /** Versions kept loaded for requests; the least recently used beyond this is released. Default 4. */
  maxLoaded?: number;
}

type Params = { name: string; version?: string };
const security = [{ bearer: [] }];
const read = { role: 'read' as const };
const tags = ['inference'];

/** A version loaded for requests, by `name@version`, least recently used first. */
class LoadedVersions {
  private readonly loaded = new Map<string, Promise<OnnxScorer>>();

  constructor(
    private readonly deps: InferenceDeps,
    private readonly max: number,
  ) {}

  async get(name: string, version: string): Promise<OnnxScorer | undefined> {
    const key = `${name}@${version}`;
    let scorer = this.loaded.get(key);
    if (scorer === undefined) {
      const artifact = await this.deps.models.getVersion(name, version);
      if (artifact === undefined) return undefined;
      const { features, inputs, outputs } = artifact.meta;
      scorer = OnnxScorer.load(artifact.bytes, { features, inputs, outputs });
      scorer.catch(() => this.loaded.delete(key));
    } else {
      this.loaded.delete(key);
    }
    this.loaded.set(key, scorer);
    while (this.loaded.size > this.max) {
      const [oldest, evicted] = this.loaded.entries().next().value as [string, Promise<OnnxScorer>];
      this.loaded.delete(oldest);
      void evicted.then((s) => s.release()).catch(() => undefined);
    }
    return scorer;
  }

  async close(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear();
    await Promise.all(all.map((p) => p.then((s) => s.release()).catch(() => undefined)));
  }
}

/**
 * The Open Inference Protocol (v2) REST endpoints, on the registry's versions: server liveness,
 * readiness and metadata, model readiness and metadata, and infer (JSON tensors in and out).
 * A request without a version is served by the version its model's alias points at. Every
 * call needs a read token, as the admin API's reads do.
 */
export function inferenceRoutes(deps: InferenceDeps): (app: FastifyInstance) => Promise<void> {
  return async (root) => {
    // Its own context: clients of the protocol (tritonclient among them) send JSON without a content type.
    await root.register(async (app) => {
      app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
        const jsonSize = req.headers['inference-header-content-length'];
        if (jsonSize !== undefined && Number(jsonSize) !== Buffer.byteLength(body as string)) {
          done(new InferRequestError('binary tensor data is not supported: send tensors as JSON (tritonclient: binary_data=False)'), undefined);
          return;
        }
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(new InferRequestError('the request body is not JSON'), undefined);
        }
      });
      routes(app, deps);
    });
  };
}

function routes(app: FastifyInstance, deps: InferenceDeps): void {
  const versions = new LoadedVersions(deps, deps.maxLoaded ?? 4);
  app.addHook('onClose', () => versions.close());
  serverRoutes(app, deps);
  modelRoutes(app, deps, resolver(deps, versions));
}

type Resolve = (p: Params, reply: FastifyReply) => Promise<{ version: string; scorer: OnnxScorer } | undefined>;

/** The loaded version a request names (or its model's default alias), or undefined once the error is answered. */
function resolver(deps: InferenceDeps, versions: LoadedVersions): Resolve {
  return async (p, reply) => {
    const alias = deps.aliasOf(p.name);
    const version = p.version ?? (await deps.models.resolveAlias(p.name, alias));
    if (version === undefined) {
      await reply.code(404).send({ error: `model "${p.name}" has no version at alias "${alias}"` });
      return undefined;
    }
    try {
      const scorer = await versions.get(p.name, version);
      if (scorer !== undefined) return { version, scorer };
      await reply.code(404).send({ error: `model "${p.name}" has no version ${version}` });
    } catch (err) {
      await reply.code(err instanceof ServiceError && !err.canRetry ? 400 : 503).send({ error: `model "${p.name}" version ${version} cannot load: ${errorMessage(err)}` });
    }
    return undefined;
  };
}

/** Server liveness, readiness and metadata. */
function serverRoutes(app: FastifyInstance, deps: InferenceDeps): void {
  app.get('/v2/health/live', { config: read, schema: { summary: 'Server liveness', tags, security } }, async () => ({ live: true }));
  app.get('/v2/health/ready', { config: read, schema: { summary: 'Server readiness: the registry answers', tags, security } }, async (_req, reply) => {
    try {
      await deps.models.listModels();
      return { ready: true };
    } catch (err) {
      return reply.code(503).send({ error: `the model registry does not answer: ${errorMessage(err)}` });
    }
  });
  app.get('/v2', { config: read, schema: { summary: 'Server metadata', tags, security } }, async () => ({ name: 'kscore', version: '1', extensions: [] }));
}

/** A model's (or one version's) readiness, metadata and inference. */
function modelRoutes(app: FastifyInstance, deps: InferenceDeps, resolve: Resolve): void {
  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get<{ Params: Params }>(`${prefix}/ready`, { config: read, schema: { summary: 'Model readiness: the version loads', tags, security } }, async (req, reply) => {
      const found = await resolve(req.params, reply);
      return found === undefined ? reply : { name: req.params.name, ready: true };
    });

    app.get<{ Params: Params }>(prefix, { config: read, schema: { summary: 'Model metadata: inputs and outputs with datatypes and shapes', tags, security } }, async (req, reply) => {
      const found = await resolve(req.params, reply);
      if (found === undefined) return reply;
      const spec = found.scorer.spec;
      const all = await deps.models.listVersions(req.params.name);
      return {
        name: req.params.name,
        versions: all.map((v) => v.version),
        platform: 'onnxruntime_onnx',
        inputs: inputsOf(spec).map(tensorMetadata),
        outputs: outputsOf(spec).map(tensorMetadata),
      };
    });

    app.post<{ Params: Params; Body: unknown }>(`${prefix}/infer`, { config: read, schema: { summary: 'Infer: tensors in, tensors out (JSON)', tags, security } }, async (req, reply) => {
      const found = await resolve(req.params, reply);
      if (found === undefined) return reply;
      const spec = found.scorer.spec;
      let result;
      try {
        const feeds = feedsOf(req.body, inputsOf(spec));
        result = await found.scorer.run(feeds, requestedOutputs(req.body, outputsOf(spec)));
      } catch (err) {
        if (err instanceof InferRequestError || (err instanceof ServiceError && !err.canRetry)) return reply.code(400).send({ error: err.message });
        throw err;
      }
      const id = (req.body as { id?: unknown } | null)?.id;
      return {
        model_name: req.params.name,
        model_version: found.version,
        ...(typeof id === 'string' ? { id } : {}),
        outputs: Object.entries(result).map(([name, t]) => oipTensor(name, t)),
      };
    });
  }
}
