import { createHash } from 'node:crypto';
import { ModelError, ServiceError, TransientError, errorMessage } from '../errors.js';
import type { Config } from '../config/index.js';
import { ModelFileStore } from './file-store.js';
import type { RegistryRedis, RegistryRedisTransaction } from './redis-port.js';
import type { AuditEntry, AuditLog, AuditQuery, ModelArtifact, ModelStorage, ModelStore, ModelVersionMeta, NewAuditEntry, Routing, TrafficSplit, ValidatedVersion } from './types.js';

/** The store as the configuration sets it up (every process of the service builds it this way). */
export function modelStoreFor(redis: RegistryRedis, config: Pick<Config, 'redisKeyPrefix' | 'modelInlineMaxBytes' | 'modelStoreDir'>): RedisModelStore {
  return new RedisModelStore(redis, { prefix: config.redisKeyPrefix, inlineMaxBytes: config.modelInlineMaxBytes, fileStore: new ModelFileStore(config.modelStoreDir) });
}

export interface RedisModelStoreOptions {
  /** Prefix of every key. */
  prefix?: string;
  /** Versions larger than this many bytes go to the file store. */
  inlineMaxBytes?: number;
  fileStore?: ModelFileStore;
}

/** The metadata of a new version, as every store records it. */
export function versionMeta(
  name: string,
  version: string,
  sha256: string,
  input: ValidatedVersion,
  actor: string,
  storage: ModelStorage,
): ModelVersionMeta {
  return {
    name,
    version,
    sha256,
    size: input.bytes.length,
    createdAt: new Date().toISOString(),
    createdBy: actor,
    description: input.description ?? '',
    features: [...input.features],
    ...(input.inputs === undefined ? {} : { inputs: input.inputs.map((i) => ({ name: i.name, type: i.type, shape: [...i.shape], fields: [...i.fields] })) }),
    outputs: input.outputs,
    storage,
    ...(input.metrics === undefined ? {} : { metrics: input.metrics }),
    ...(input.baseline === undefined ? {} : { baseline: input.baseline }),
  };
}

/** Most entries the audit stream keeps (the oldest go first). */
export const AUDIT_MAX_ENTRIES = 100_000;

/**
 * A Redis call whose failure (connection lost, Redis frozen past the command timeout, ...) is a
 * `TransientError`: a retry can help. What Redis answered is checked by the callers.
 */
async function reading<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ServiceError) throw err;
    throw new TransientError('REGISTRY_UNAVAILABLE', `Redis: cannot read ${what}: ${errorMessage(err)}`, err);
  }
}

/** Atomically moves an alias back one step in its history. KEYS: history, aliases. ARGV: alias. */
const ROLLBACK_SCRIPT = `
local n = redis.call('LLEN', KEYS[1])
if n < 2 then return false end
redis.call('RPOP', KEYS[1])
local prev = redis.call('LINDEX', KEYS[1], -1)
redis.call('HSET', KEYS[2], ARGV[1], prev)
return prev`;

/**
 * The registry in Redis. Layout, under the key prefix:
 *   models                          SET of model names
 *   model:{name}:seq                counter giving version numbers
 *   model:{name}:versions           LIST of versions, oldest first
 *   model:{name}:v:{version}        HASH meta (JSON) and bytes (inline versions only)
 *   model:{name}:aliases            HASH alias -> version
 *   model:{name}:alias:{alias}      LIST of the versions the alias pointed at, oldest first
 *   model:{name}:split              HASH alias, share (the canary's share of keys)
 *   audit                           STREAM, append-only: who changed what, when
 *   events                          pub/sub channel: routing of a model changed
 * Each change is one MULTI (or one script), so readers see all of it or none.
 */
export class RedisModelStore implements ModelStore, AuditLog {
  private readonly prefix: string;
  private readonly inlineMaxBytes: number;
  private readonly fileStore: ModelFileStore | undefined;

  constructor(
    private readonly redis: RegistryRedis,
    options: RedisModelStoreOptions | string = {},
  ) {
    const o = typeof options === 'string' ? { prefix: options } : options;
    this.prefix = o.prefix ?? 'kscore:';
    this.inlineMaxBytes = o.inlineMaxBytes ?? Number.POSITIVE_INFINITY;
    this.fileStore = o.fileStore;
  }

  /** The pub/sub channel on which routing changes are announced. */
  get eventsChannel(): string {
    return this.key('events');
  }

  private key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  async addVersion(name: string, input: ValidatedVersion, actor: string): Promise<ModelVersionMeta> {
    const version = String(await this.redis.incr(this.key('model', name, 'seq')));
    const sha256 = createHash('sha256').update(input.bytes).digest('hex');
    const inline = input.bytes.length <= this.inlineMaxBytes;
    if (!inline && this.fileStore === undefined) {
      throw new ModelError('MODEL_TOO_LARGE', `the model is ${input.bytes.length} bytes, over the inline limit, and no file store is set`);
    }
    const storage = inline ? ({ kind: 'inline' } as const) : { kind: 'file' as const, path: await this.fileStore!.write(name, version, sha256, input.bytes) };
    const meta = versionMeta(name, version, sha256, input, actor, storage);
    const fields: (string | Buffer)[] = ['meta', JSON.stringify(meta)];
    if (inline) fields.push('bytes', input.bytes);
    const tx = this.redis
      .multi()
      .hset(this.key('model', name, 'v', version), ...fields)
      .rpush(this.key('model', name, 'versions'), version)
      .sadd(this.key('models'), name);
    await this.exec(this.audited(tx, { actor, action: 'register', model: name, version, detail: `sha256 ${sha256}, ${meta.size} bytes` }), `store ${name} v${version}`);
    return meta;
  }

  async setAlias(name: string, alias: string, version: string, actor: string): Promise<void> {
    if ((await this.getMeta(name, version)) === undefined) {
      throw new ModelError('MODEL_VERSION_UNKNOWN', `model ${name} has no version ${version}`);
    }
    const tx = this.redis
      .multi()
      .hset(this.key('model', name, 'aliases'), alias, version)
      .rpush(this.key('model', name, 'alias', alias), version);
    await this.exec(this.announced(this.audited(tx, { actor, action: 'set-alias', model: name, alias, version }), name), `set alias ${alias}`);
  }

  async rollbackAlias(name: string, alias: string, actor: string): Promise<string> {
    const prev = await this.redis.eval(ROLLBACK_SCRIPT, 2, this.key('model', name, 'alias', alias), this.key('model', name, 'aliases'), alias);
    if (typeof prev !== 'string') {
      throw new ModelError('MODEL_NO_PREVIOUS', `alias ${alias} of ${name} has no previous version to roll back to`);
    }
    const tx = this.redis.multi();
    await this.exec(this.announced(this.audited(tx, { actor, action: 'rollback', model: name, alias, version: prev }), name), 'record rollback');
    return prev;
  }

  async deleteAlias(name: string, alias: string, actor: string): Promise<void> {
    const tx = this.redis.multi().hdel(this.key('model', name, 'aliases'), alias).del(this.key('model', name, 'alias', alias));
    await this.exec(this.announced(this.audited(tx, { actor, action: 'delete-alias', model: name, alias }), name), `delete alias ${alias}`);
  }

  async setSplit(name: string, split: TrafficSplit | undefined, actor: string): Promise<void> {
    const key = this.key('model', name, 'split');
    const tx = split === undefined ? this.redis.multi().del(key) : this.redis.multi().hset(key, 'alias', split.alias, 'share', String(split.share));
    const detail = split === undefined ? 'no split' : `${split.share} of keys to ${split.alias}`;
    await this.exec(this.announced(this.audited(tx, { actor, action: 'set-split', model: name, ...(split ? { alias: split.alias } : {}), detail }), name), 'set split');
  }

  async recordRefusal(name: string, reason: string, actor: string): Promise<void> {
    await this.exec(this.audited(this.redis.multi(), { actor, action: 'refused', model: name, detail: reason }), 'record refusal');
  }

  async routing(name: string): Promise<Routing> {
    const [aliases, split] = await reading(`the routing of ${name}`, () =>
      Promise.all([this.redis.hgetall(this.key('model', name, 'aliases')), this.redis.hgetall(this.key('model', name, 'split'))]),
    );
    const share = Number(split['share']);
    return split['alias'] !== undefined && Number.isFinite(share) ? { aliases, split: { alias: split['alias'], share } } : { aliases };
  }

  async resolveAlias(name: string, alias: string): Promise<string | undefined> {
    return (await reading(`alias ${alias} of ${name}`, () => this.redis.hget(this.key('model', name, 'aliases'), alias))) ?? undefined;
  }

  async getMeta(name: string, version: string): Promise<ModelVersionMeta | undefined> {
    const meta = await reading(`${name} v${version}`, () => this.redis.hget(this.key('model', name, 'v', version), 'meta'));
    if (meta === null) return undefined;
    try {
      return JSON.parse(meta) as ModelVersionMeta;
    } catch {
      throw new ModelError('MODEL_CORRUPT', `model ${name} v${version}: its metadata is not JSON`);
    }
  }

  async getVersion(name: string, version: string): Promise<ModelArtifact | undefined> {
    const meta = await this.getMeta(name, version);
    if (meta === undefined) return undefined;
    let bytes: Buffer | null;
    if (meta.storage.kind === 'file') {
      if (this.fileStore === undefined) throw new ModelError('MODEL_NO_FILE_STORE', `${name} v${version} is in the file store, which is not configured here`);
      bytes = await this.fileStore.read(meta.storage.path);
    } else {
      bytes = await reading(`the bytes of ${name} v${version}`, () => this.redis.hgetBuffer(this.key('model', name, 'v', version), 'bytes'));
    }
    if (bytes === null) throw new ModelError('MODEL_CORRUPT', `model ${name} v${version} has no bytes`);
    if (createHash('sha256').update(bytes).digest('hex') !== meta.sha256) {
      throw new ModelError('MODEL_CORRUPT', `model ${name} v${version}: stored bytes do not match their sha256`);
    }
    return { meta, bytes };
  }

  async listVersions(name: string): Promise<ModelVersionMeta[]> {
    const versions = await this.redis.lrange(this.key('model', name, 'versions'), 0, -1);
    const metas = await Promise.all(versions.map((v) => this.getMeta(name, v)));
    return metas.filter((m): m is ModelVersionMeta => m !== undefined);
  }

  async listModels(): Promise<string[]> {
    return (await this.redis.smembers(this.key('models'))).sort();
  }

  /** Appends an entry that is not part of a model change (a replay into the live topic, a schedule change). */
  async record(entry: NewAuditEntry): Promise<void> {
    await this.exec(this.audited(this.redis.multi(), entry), `record ${entry.action} in the audit log`);
  }

  /** Newest first. */
  async audit(options: AuditQuery = {}): Promise<AuditEntry[]> {
    const limit = options.limit ?? 100;
    const entries: AuditEntry[] = [];
    let end = '+';
    // Page backwards until enough entries of the model are found.
    for (;;) {
      const page = await this.redis.xrevrange(this.key('audit'), end, '-', 'COUNT', 500);
      for (const [id, kv] of page) {
        const e: Record<string, string> = { id };
        for (let i = 0; i + 1 < kv.length; i += 2) e[kv[i]!] = kv[i + 1]!;
        if ((options.model === undefined || e['model'] === options.model) && (options.schedule === undefined || e['schedule'] === options.schedule)) {
          entries.push(e as unknown as AuditEntry);
        }
        if (entries.length >= limit) return entries;
      }
      if (page.length < 500) return entries;
      end = `(${page[page.length - 1]![0]}`;
    }
  }

  private audited(tx: RegistryRedisTransaction, e: NewAuditEntry): RegistryRedisTransaction {
    const fields: string[] = ['at', new Date().toISOString()];
    for (const [k, v] of Object.entries(e)) if (v !== undefined) fields.push(k, String(v));
    // Capped (about AUDIT_MAX_ENTRIES, trimmed by whole nodes): the log must not grow without bound.
    return tx.xadd(this.key('audit'), 'MAXLEN', '~', String(AUDIT_MAX_ENTRIES), '*', ...fields);
  }

  private announced(tx: RegistryRedisTransaction, model: string): RegistryRedisTransaction {
    return tx.publish(this.eventsChannel, JSON.stringify({ model }));
  }

  private async exec(tx: RegistryRedisTransaction, what: string): Promise<void> {
    const result = await reading(what, () => tx.exec());
    const failed = result?.find(([err]) => err !== null);
    if (result === null || failed !== undefined) {
      throw new TransientError('REGISTRY_WRITE_FAILED', `could not ${what}: ${failed?.[0]?.message ?? 'transaction aborted'}`);
    }
  }
}
