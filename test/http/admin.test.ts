import { versionMeta } from '../../src/registry/index.js';
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiToken } from '../../src/config/index.js';
import { ModelError } from '../../src/errors.js';
import { buildHttpServer } from '../../src/http/server.js';
import { logistic } from '../../src/modelgen/models.js';
import type {
  AuditEntry,
  NewAuditEntry,
  ModelArtifact,
  ModelStore,
  ModelVersionMeta,
  Routing,
  TrafficSplit,
  ValidatedVersion,
} from '../../src/registry/types.js';

const ADMIN = 'admin-token-0123456789abcdef';
const READER = 'read-token-0123456789abcdef';
const TOKENS: ApiToken[] = [
  { owner: 'alice', role: 'admin', token: ADMIN },
  { owner: 'bob', role: 'read', token: READER },
];
const MAX_UPLOAD = 4096;
const MODEL = logistic(4, 1); // features f0..f3, one output "score"
const FEATURES = MODEL.features.join(',');

interface StoredModel {
  seq: number;
  versions: string[];
  /** Version -> meta as JSON and bytes, as the Redis store keeps them. */
  data: Map<string, { meta: string; bytes: Buffer }>;
  aliases: Map<string, string>;
  /** Alias -> the versions it pointed at, oldest first. */
  history: Map<string, string[]>;
  split: TrafficSplit | undefined;
}

/**
 * The registry in memory, with the semantics of RedisModelStore: versions numbered from 1 per
 * model, aliases with a history that rollback walks back, every write audited and every routing
 * change announced (kept in `announced`). Reads return fresh copies.
 */
class MemoryModelStore implements ModelStore {
  readonly models = new Map<string, StoredModel>();
  readonly log: AuditEntry[] = [];
  readonly announced: string[] = [];
  private auditSeq = 0;

  private model(name: string): StoredModel {
    let m = this.models.get(name);
    if (m === undefined) {
      m = { seq: 0, versions: [], data: new Map(), aliases: new Map(), history: new Map(), split: undefined };
      this.models.set(name, m);
    }
    return m;
  }

  private audited(e: Omit<AuditEntry, 'id' | 'at'>): void {
    const entry: Record<string, string> = { id: `${++this.auditSeq}-0`, at: new Date().toISOString() };
    for (const [k, v] of Object.entries(e)) if (v !== undefined) entry[k] = String(v);
    this.log.push(entry as unknown as AuditEntry);
  }

  private announce(model: string): void {
    this.announced.push(JSON.stringify({ model }));
  }

  async addVersion(
    name: string,
    input: ValidatedVersion,
    actor: string,
  ): Promise<ModelVersionMeta> {
    const m = this.model(name);
    const version = String(++m.seq);
    const sha256 = createHash('sha256').update(input.bytes).digest('hex');
    const meta = versionMeta(name, version, sha256, input, actor, { kind: 'inline' });
    m.data.set(version, { meta: JSON.stringify(meta), bytes: Buffer.from(input.bytes) });
    m.versions.push(version);
    this.audited({ actor, action: 'register', model: name, version, detail: `sha256 ${sha256}, ${meta.size} bytes` });
    return JSON.parse(JSON.stringify(meta)) as ModelVersionMeta;
  }

  async setAlias(name: string, alias: string, version: string, actor: string): Promise<void> {
    if ((await this.getMeta(name, version)) === undefined) {
      throw new ModelError('MODEL_VERSION_UNKNOWN', `model ${name} has no version ${version}`);
    }
    const m = this.model(name);
    m.aliases.set(alias, version);
    m.history.set(alias, [...(m.history.get(alias) ?? []), version]);
    this.audited({ actor, action: 'set-alias', model: name, alias, version });
    this.announce(name);
  }

  async rollbackAlias(name: string, alias: string, actor: string): Promise<string> {
    const m = this.models.get(name);
    const history = m?.history.get(alias) ?? [];
    if (m === undefined || history.length < 2) {
      throw new ModelError('MODEL_NO_PREVIOUS', `alias ${alias} of ${name} has no previous version to roll back to`);
    }
    history.pop();
    const prev = history[history.length - 1]!;
    m.aliases.set(alias, prev);
    this.audited({ actor, action: 'rollback', model: name, alias, version: prev });
    this.announce(name);
    return prev;
  }

  async deleteAlias(name: string, alias: string, actor: string): Promise<void> {
    const m = this.models.get(name);
    m?.aliases.delete(alias);
    m?.history.delete(alias);
    this.audited({ actor, action: 'delete-alias', model: name, alias });
    this.announce(name);
  }

  async setSplit(name: string, split: TrafficSplit | undefined, actor: string): Promise<void> {
    const m = this.model(name);
    m.split = split === undefined ? undefined : { ...split };
    const detail = split === undefined ? 'no split' : `${split.share} of keys to ${split.alias}`;
    this.audited({ actor, action: 'set-split', model: name, ...(split ? { alias: split.alias } : {}), detail });
    this.announce(name);
  }

  async record(entry: NewAuditEntry): Promise<void> {
    this.audited(entry);
  }

  async recordRefusal(name: string, reason: string, actor: string): Promise<void> {
    this.audited({ actor, action: 'refused', model: name, detail: reason });
  }

  async routing(name: string): Promise<Routing> {
    const m = this.models.get(name);
    const aliases = Object.fromEntries(m?.aliases ?? []);
    return m?.split === undefined ? { aliases } : { aliases, split: { ...m.split } };
  }

  async resolveAlias(name: string, alias: string): Promise<string | undefined> {
    return this.models.get(name)?.aliases.get(alias);
  }

  async getMeta(name: string, version: string): Promise<ModelVersionMeta | undefined> {
    const d = this.models.get(name)?.data.get(version);
    return d === undefined ? undefined : (JSON.parse(d.meta) as ModelVersionMeta);
  }

  async getVersion(name: string, version: string): Promise<ModelArtifact | undefined> {
    const d = this.models.get(name)?.data.get(version);
    if (d === undefined) return undefined;
    const meta = JSON.parse(d.meta) as ModelVersionMeta;
    if (createHash('sha256').update(d.bytes).digest('hex') !== meta.sha256) {
      throw new ModelError('MODEL_CORRUPT', `model ${name} v${version}: stored bytes do not match their sha256`);
    }
    return { meta, bytes: Buffer.from(d.bytes) };
  }

  async listVersions(name: string): Promise<ModelVersionMeta[]> {
    const m = this.models.get(name);
    if (m === undefined) return [];
    return m.versions.map((v) => JSON.parse(m.data.get(v)!.meta) as ModelVersionMeta);
  }

  async listModels(): Promise<string[]> {
    // Like the Redis set of names: a model exists once a version was stored.
    return [...this.models.entries()].filter(([, m]) => m.versions.length > 0).map(([n]) => n).sort();
  }

  async audit(options: { model?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    const limit = options.limit ?? 100;
    return [...this.log]
      .reverse()
      .filter((e) => options.model === undefined || e.model === options.model)
      .slice(0, limit)
      .map((e) => ({ ...e }));
  }

  /** Everything stored, for "nothing changed" checks. */
  snapshot(): string {
    return JSON.stringify(
      [...this.models.entries()].map(([n, m]) => [
        n,
        m.seq,
        m.versions,
        [...m.data.entries()].map(([v, d]) => [v, d.meta, d.bytes.toString('base64')]),
        [...m.aliases.entries()],
        [...m.history.entries()],
        m.split ?? null,
      ]),
    );
  }
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

describe('admin API', () => {
  let store: MemoryModelStore;
  let app: FastifyInstance;

  beforeEach(async () => {
    store = new MemoryModelStore();
    app = await buildHttpServer({
      readiness: () => ({ ready: true, checks: {} }),
      metrics: new Registry(),
      logger: pino({ level: 'silent' }),
      admin: { store, tokens: TOKENS, maxUploadBytes: MAX_UPLOAD },
    });
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
  });

  function uploadOctets(name: string, bytes: Uint8Array, query: string, token = ADMIN) {
    return app.inject({
      method: 'POST',
      url: `/api/v1/models/${name}/versions${query}`,
      headers: { ...auth(token), 'content-type': 'application/octet-stream' },
      payload: Buffer.from(bytes),
    });
  }

  function uploadJson(name: string, body: object, token = ADMIN) {
    return app.inject({ method: 'POST', url: `/api/v1/models/${name}/versions`, headers: auth(token), payload: body });
  }

  function promote(name: string, alias: string, version: string, token = ADMIN) {
    return app.inject({ method: 'PUT', url: `/api/v1/models/${name}/aliases/${alias}`, headers: auth(token), payload: { version } });
  }

  function rollback(name: string, alias: string, token = ADMIN) {
    return app.inject({ method: 'POST', url: `/api/v1/models/${name}/aliases/${alias}/rollback`, headers: auth(token) });
  }

  const getModel = (name: string) => app.inject({ method: 'GET', url: `/api/v1/models/${name}`, headers: auth(READER) });

  describe('upload', () => {
    it('stores an octet-stream upload with ?features= and answers 201 with the version', async () => {
      const res = await uploadOctets('fraud', MODEL.bytes, `?features=${FEATURES}&description=first`);
      expect(res.statusCode).toBe(201);
      const meta = res.json<ModelVersionMeta>();
      expect(meta).toMatchObject({
        name: 'fraud',
        version: '1',
        size: MODEL.bytes.length,
        sha256: createHash('sha256').update(MODEL.bytes).digest('hex'),
        createdBy: 'alice',
        description: 'first',
        features: MODEL.features,
      });

      const stored = await store.getVersion('fraud', '1');
      expect(stored?.bytes.equals(Buffer.from(MODEL.bytes))).toBe(true);
      expect(stored?.meta.outputs).toEqual({ score: 'score' }); // inferred from the model
      // The input as the model declares it, with the fields that fill it.
      expect(stored?.meta.inputs).toEqual([{ name: 'features', type: 'float32', shape: ['N', 4], fields: MODEL.features }]);
      expect(store.log.map((e) => [e.action, e.actor, e.version])).toEqual([['register', 'alice', '1']]);

      const again = await uploadOctets('fraud', MODEL.bytes, `?features=${FEATURES}`);
      expect(again.statusCode).toBe(201);
      expect(again.json()).toMatchObject({ version: '2' });
    });

    it('takes the output names from the query string', async () => {
      const res = await uploadOctets('fraud', MODEL.bytes, `?features=${FEATURES}&score=score`);
      expect(res.statusCode).toBe(201);
      expect((await store.getMeta('fraud', '1'))?.outputs).toEqual({ score: 'score' });

      const wrong = await uploadOctets('fraud', MODEL.bytes, `?features=${FEATURES}&score=nope`);
      expect(wrong.statusCode).toBe(422);
      expect(wrong.json<{ message: string }>().message).toMatch(/"nope" is not an output/);
    });

    it('stores a JSON upload with the bytes in base64, and sets the alias it names', async () => {
      const res = await uploadJson('fraud', {
        onnx: Buffer.from(MODEL.bytes).toString('base64'),
        features: MODEL.features,
        description: 'from JSON',
        metrics: { auc: 0.91 },
        alias: 'production',
      });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ name: 'fraud', version: '1', description: 'from JSON', metrics: { auc: 0.91 } });
      expect((await store.getVersion('fraud', '1'))?.bytes.equals(Buffer.from(MODEL.bytes))).toBe(true);
      expect(await store.resolveAlias('fraud', 'production')).toBe('1');
    });

    it('refuses bytes that are not a model with 422 and a reason, storing no version', async () => {
      const res = await uploadOctets('fraud', Buffer.from('definitely not an onnx model'), `?features=${FEATURES}`);
      expect(res.statusCode).toBe(422);
      const body = res.json<{ error: string; message: string }>();
      expect(body.error).toBe('MODEL_UNLOADABLE');
      expect(body.message).toMatch(/onnxruntime cannot load the model/);
      expect(await store.listVersions('fraud')).toEqual([]);
      expect(await store.listModels()).toEqual([]);
      // Only the refusal is recorded.
      expect(store.log.map((e) => [e.action, e.actor, e.model])).toEqual([['refused', 'alice', 'fraud']]);
      expect(store.log[0]!.detail).toBe(body.message);
    });

    it('refuses a feature list whose length differs from the model input with 422 naming the mismatch', async () => {
      const before = store.snapshot();
      const res = await uploadOctets('fraud', MODEL.bytes, '?features=f0,f1,f2');
      expect(res.statusCode).toBe(422);
      expect(res.json()).toEqual({
        error: 'MODEL_FEATURE_MISMATCH',
        message: 'input "features" takes 4 features but 3 are declared',
      });
      expect(store.snapshot()).toBe(before);

      const json = await uploadJson('fraud', { onnx: Buffer.from(MODEL.bytes).toString('base64'), features: ['a', 'b', 'c', 'd', 'e'] });
      expect(json.statusCode).toBe(422);
      expect(json.json<{ message: string }>().message).toBe('input "features" takes 4 features but 5 are declared');
      expect(await store.listVersions('fraud')).toEqual([]);
    });

    it('refuses with 422 a model whose wide input has no feature names, and with 400 an upload without bytes', async () => {
      const octets = await uploadOctets('fraud', MODEL.bytes, '');
      expect(octets.statusCode).toBe(422);
      expect(octets.json()).toEqual({ error: 'FEATURES_REQUIRED', message: 'input "features" takes 4 columns: name the fields that fill it (features, or an input mapping)' });

      const json = await uploadJson('fraud', { onnx: Buffer.from(MODEL.bytes).toString('base64') });
      expect(json.statusCode).toBe(422);
      expect(json.json()).toMatchObject({ error: 'FEATURES_REQUIRED' });

      const noBytes = await uploadJson('fraud', { features: MODEL.features });
      expect(noBytes.statusCode).toBe(400);
      expect(noBytes.json()).toMatchObject({ error: 'BAD_UPLOAD' });
      expect(store.snapshot()).toBe('[]');
      expect(store.log.map((e) => e.action)).toEqual(['refused', 'refused']);
    });

    it('takes an input mapping and a positive class from a JSON upload', async () => {
      const res = await uploadJson('fraud', {
        onnx: Buffer.from(MODEL.bytes).toString('base64'),
        inputs: { features: MODEL.features },
        outputs: { score: 'score' },
      });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ features: MODEL.features, inputs: [{ name: 'features', type: 'float32', fields: MODEL.features }] });

      const unknown = await uploadJson('fraud', { onnx: Buffer.from(MODEL.bytes).toString('base64'), inputs: { feature: MODEL.features } });
      expect(unknown.statusCode).toBe(422);
      expect(unknown.json()).toEqual({ error: 'MODEL_INPUT_MAPPING', message: 'the input mapping names "feature", which is not an input of the model (features)' });

      const positive = await uploadOctets('fraud', MODEL.bytes, `?features=${FEATURES}&positiveClass=1`);
      expect(positive.statusCode).toBe(422);
      expect(positive.json<{ error: string }>().error).toBe('MODEL_POSITIVE_CLASS');

      const notMapping = await uploadJson('fraud', { onnx: Buffer.from(MODEL.bytes).toString('base64'), inputs: [MODEL.features] });
      expect(notMapping.statusCode).toBe(400);
    });

    it('refuses an empty upload or an empty feature name with 422', async () => {
      const empty = await uploadOctets('fraud', Buffer.alloc(0), `?features=${FEATURES}`);
      expect(empty.statusCode).toBe(422);
      expect(empty.json()).toEqual({ error: 'MODEL_EMPTY', message: 'the model file is empty' });

      const blank = await uploadOctets('fraud', MODEL.bytes, '?features=f0,,f2,f3');
      expect(blank.statusCode).toBe(422);
      expect(blank.json()).toMatchObject({ error: 'MODEL_FEATURES' });
      expect(await store.listVersions('fraud')).toEqual([]);
      expect(store.log.map((e) => e.action)).toEqual(['refused', 'refused']);
    });

    it('answers 400 to JSON features that are not an array', async () => {
      const res = await uploadJson('fraud', { onnx: Buffer.from(MODEL.bytes).toString('base64'), features: FEATURES });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'BAD_UPLOAD' });
      expect(store.snapshot()).toBe('[]');
    });

    it('answers 413 to a body over maxUploadBytes and stores nothing', async () => {
      const big = Buffer.alloc(MAX_UPLOAD + 1, 7);
      const res = await uploadOctets('fraud', big, `?features=${FEATURES}`);
      expect(res.statusCode).toBe(413);
      const json = await uploadJson('fraud', { onnx: big.toString('base64'), features: MODEL.features });
      expect(json.statusCode).toBe(413);
      expect(store.snapshot()).toBe('[]');
      expect(store.log).toEqual([]);
    });

    it('refuses a model or alias name outside the allowed characters with 400', async () => {
      const name = await uploadOctets('bad%20name', MODEL.bytes, `?features=${FEATURES}`);
      expect(name.statusCode).toBe(400);
      expect(name.json<{ message: string }>().message).toMatch(/params\/name/);
      const alias = await uploadOctets('fraud', MODEL.bytes, `?features=${FEATURES}&alias=bad%20alias`);
      expect(alias.statusCode).toBe(400);
      expect(store.snapshot()).toBe('[]');
      expect(store.log).toEqual([]);
    });
  });

  describe('aliases', () => {
    beforeEach(async () => {
      for (let i = 0; i < 3; i++) {
        const res = await uploadOctets('fraud', MODEL.bytes, `?features=${FEATURES}`);
        expect(res.statusCode).toBe(201);
      }
    });

    it('promotes: PUT an alias answers 200, and the model shows it', async () => {
      const res = await promote('fraud', 'production', '2');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ model: 'fraud', alias: 'production', version: '2', contracts: [] });

      const model = await getModel('fraud');
      expect(model.statusCode).toBe(200);
      const body = model.json<{ name: string; aliases: Record<string, string>; versions: { version: string }[] }>();
      expect(body.name).toBe('fraud');
      expect(body.aliases).toEqual({ production: '2' });
      expect(body.versions.map((v) => v.version)).toEqual(['1', '2', '3']);
      expect(store.announced).toEqual([JSON.stringify({ model: 'fraud' })]);
      expect(store.log.at(-1)).toMatchObject({ action: 'set-alias', actor: 'alice', alias: 'production', version: '2' });

      const list = await app.inject({ method: 'GET', url: '/api/v1/models', headers: auth(READER) });
      expect(list.json()).toEqual([{ name: 'fraud', aliases: { production: '2' }, versions: 3 }]);
    });

    it('answers 404 to a promotion to a version that does not exist, and changes nothing', async () => {
      const before = store.snapshot();
      const res = await promote('fraud', 'production', '99');
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: 'MODEL_VERSION_UNKNOWN' });
      expect(store.snapshot()).toBe(before);
      expect(store.announced).toEqual([]);
    });

    it('refuses a version that is not a number with 400', async () => {
      const res = await promote('fraud', 'production', 'latest');
      expect(res.statusCode).toBe(400);
      expect(await store.resolveAlias('fraud', 'production')).toBeUndefined();
    });

    it('rolls an alias back to its previous version, then 409 once there is none', async () => {
      await promote('fraud', 'production', '1');
      await promote('fraud', 'production', '3');
      const res = await rollback('fraud', 'production');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ model: 'fraud', alias: 'production', version: '1' });
      expect((await getModel('fraud')).json<{ aliases: Record<string, string> }>().aliases).toEqual({ production: '1' });
      expect(store.log.at(-1)).toMatchObject({ action: 'rollback', actor: 'alice', version: '1' });

      const again = await rollback('fraud', 'production');
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({ error: 'MODEL_NO_PREVIOUS' });
      expect(await store.resolveAlias('fraud', 'production')).toBe('1');
    });

    it('answers 409 to a rollback of an alias with no history', async () => {
      const never = await rollback('fraud', 'staging');
      expect(never.statusCode).toBe(409);
      await promote('fraud', 'staging', '2');
      const once = await rollback('fraud', 'staging');
      expect(once.statusCode).toBe(409);
      expect(await store.resolveAlias('fraud', 'staging')).toBe('2');
    });

    it('sets and ends a traffic split, seen in the model', async () => {
      await promote('fraud', 'production', '1');
      await promote('fraud', 'canary', '2');
      const put = await app.inject({ method: 'PUT', url: '/api/v1/models/fraud/split', headers: auth(ADMIN), payload: { alias: 'canary', share: 0.1 } });
      expect(put.statusCode).toBe(200);
      expect((await getModel('fraud')).json()).toMatchObject({ split: { alias: 'canary', share: 0.1 } });

      const bad = await app.inject({ method: 'PUT', url: '/api/v1/models/fraud/split', headers: auth(ADMIN), payload: { alias: 'canary', share: 1.5 } });
      expect(bad.statusCode).toBe(400);

      const del = await app.inject({ method: 'DELETE', url: '/api/v1/models/fraud/split', headers: auth(ADMIN) });
      expect(del.statusCode).toBe(204);
      expect((await getModel('fraud')).json()).not.toHaveProperty('split');
    });

    it('deletes an alias', async () => {
      await promote('fraud', 'shadow', '3');
      const res = await app.inject({ method: 'DELETE', url: '/api/v1/models/fraud/aliases/shadow', headers: auth(ADMIN) });
      expect(res.statusCode).toBe(204);
      expect(await store.resolveAlias('fraud', 'shadow')).toBeUndefined();
    });
  });

  describe('reads', () => {
    it('answers 404 for an unknown model or version', async () => {
      expect((await getModel('nope')).statusCode).toBe(404);
      const res = await app.inject({ method: 'GET', url: '/api/v1/models/nope/versions/1', headers: auth(READER) });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: 'MODEL_VERSION_UNKNOWN' });
    });

    it('shows one version and the audit log, newest first', async () => {
      await uploadOctets('fraud', MODEL.bytes, `?features=${FEATURES}`);
      await promote('fraud', 'production', '1');
      const v = await app.inject({ method: 'GET', url: '/api/v1/models/fraud/versions/1', headers: auth(READER) });
      expect(v.statusCode).toBe(200);
      expect(v.json()).toMatchObject({ name: 'fraud', version: '1', createdBy: 'alice', features: MODEL.features });

      const audit = await app.inject({ method: 'GET', url: '/api/v1/audit?model=fraud', headers: auth(READER) });
      expect(audit.statusCode).toBe(200);
      expect(audit.json<AuditEntry[]>().map((e) => e.action)).toEqual(['set-alias', 'register']);
      const limited = await app.inject({ method: 'GET', url: '/api/v1/audit?limit=1', headers: auth(READER) });
      expect(limited.json<AuditEntry[]>()).toHaveLength(1);
    });
  });

  describe('auth', () => {
    it('refuses writes without a token (401) or with a read token (403), leaving the store unchanged', async () => {
      await uploadOctets('fraud', MODEL.bytes, `?features=${FEATURES}`);
      await promote('fraud', 'production', '1');
      const before = store.snapshot();
      const auditBefore = store.log.length;

      const noToken = await app.inject({
        method: 'POST',
        url: `/api/v1/models/fraud/versions?features=${FEATURES}`,
        headers: { 'content-type': 'application/octet-stream' },
        payload: Buffer.from(MODEL.bytes),
      });
      expect(noToken.statusCode).toBe(401);
      expect(noToken.headers['www-authenticate']).toBe('Bearer');

      const wrongToken = await uploadOctets('fraud', MODEL.bytes, `?features=${FEATURES}`, 'wrong-token-0123456789abcdef');
      expect(wrongToken.statusCode).toBe(401);

      const readUpload = await uploadOctets('fraud', MODEL.bytes, `?features=${FEATURES}`, READER);
      expect(readUpload.statusCode).toBe(403);
      const readPromote = await promote('fraud', 'production', '1', READER);
      expect(readPromote.statusCode).toBe(403);
      const readRollback = await rollback('fraud', 'production', READER);
      expect(readRollback.statusCode).toBe(403);
      const readSplit = await app.inject({ method: 'PUT', url: '/api/v1/models/fraud/split', headers: auth(READER), payload: { alias: 'production', share: 0.5 } });
      expect(readSplit.statusCode).toBe(403);
      const readDelete = await app.inject({ method: 'DELETE', url: '/api/v1/models/fraud/aliases/production', headers: auth(READER) });
      expect(readDelete.statusCode).toBe(403);

      expect(store.snapshot()).toBe(before);
      expect(store.log).toHaveLength(auditBefore);
    });

    it('needs a token to read, and any valid token will do', async () => {
      expect((await app.inject({ method: 'GET', url: '/api/v1/models' })).statusCode).toBe(401);
      expect((await app.inject({ method: 'GET', url: '/api/v1/models', headers: auth(READER) })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/api/v1/models', headers: auth(ADMIN) })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/api/v1/audit' })).statusCode).toBe(401);
    });

    it('leaves health and readiness open', async () => {
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ ready: true, checks: {} });
    });
  });

  describe('OpenAPI document', () => {
    it('is served at /docs/json and lists the /api/v1 paths with bearer security', async () => {
      const res = await app.inject({ method: 'GET', url: '/docs/json' });
      expect(res.statusCode).toBe(200);
      const doc = res.json<{
        openapi: string;
        info: { title: string };
        paths: Record<string, Record<string, { security?: unknown; summary?: string }>>;
        components: { securitySchemes: Record<string, unknown> };
      }>();
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.info.title).toBe('kscore admin API');
      expect(doc.components.securitySchemes).toEqual({ bearer: { type: 'http', scheme: 'bearer' } });
      const paths = Object.keys(doc.paths);
      expect(paths).toEqual(
        expect.arrayContaining([
          '/api/v1/models',
          '/api/v1/models/{name}',
          '/api/v1/models/{name}/versions',
          '/api/v1/models/{name}/versions/{version}',
          '/api/v1/models/{name}/aliases/{alias}',
          '/api/v1/models/{name}/aliases/{alias}/rollback',
          '/api/v1/models/{name}/split',
          '/api/v1/audit',
        ]),
      );
      expect(Object.keys(doc.paths['/api/v1/models/{name}/versions']!)).toContain('post');
      expect(Object.keys(doc.paths['/api/v1/models/{name}/aliases/{alias}']!).sort()).toEqual(['delete', 'put']);
      expect(doc.paths['/api/v1/models/{name}/versions']!['post']!.security).toEqual([{ bearer: [] }]);
      // Probes and scrapes are hidden from the document.
      expect(paths).not.toContain('/healthz');
      expect(paths).not.toContain('/metrics');
    });
  });
});
