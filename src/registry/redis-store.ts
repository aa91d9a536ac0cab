import { createHash } from 'node:crypto';
import { ModelError, TransientError } from '../errors.js';
import type { ModelArtifact, ModelStore, ModelVersionMeta, NewModelVersion, RegistryRedis } from './types.js';
import type { OutputMapping } from '../scoring/types.js';

/**
 * Model versions in Redis. Layout, under the key prefix:
 *   models                      SET of model names
 *   model:{name}:seq            counter giving version numbers
 *   model:{name}:versions       LIST of versions, oldest first
 *   model:{name}:v:{version}    HASH meta (JSON), bytes (the ONNX file)
 *   model:{name}:aliases        HASH alias -> version
 * A version is written in one MULTI, so a reader sees all of it or none.
 */
export class RedisModelStore implements ModelStore {
  constructor(
    private readonly redis: RegistryRedis,
    private readonly prefix = 'kscore:',
  ) {}

  private key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  async addVersion(name: string, input: NewModelVersion & { outputs: OutputMapping }): Promise<ModelVersionMeta> {
    const version = String(await this.redis.incr(this.key('model', name, 'seq')));
    const meta: ModelVersionMeta = {
      name,
      version,
      sha256: createHash('sha256').update(input.bytes).digest('hex'),
      size: input.bytes.length,
      createdAt: new Date().toISOString(),
      description: input.description ?? '',
      features: [...input.features],
      outputs: input.outputs,
    };
    const result = await this.redis
      .multi()
      .hset(this.key('model', name, 'v', version), 'meta', JSON.stringify(meta), 'bytes', input.bytes)
      .rpush(this.key('model', name, 'versions'), version)
      .sadd(this.key('models'), name)
      .exec();
    const failed = result?.find(([err]) => err !== null);
    if (result === null || failed !== undefined) {
      throw new TransientError('REGISTRY_WRITE_FAILED', `could not store ${name} v${version}: ${failed?.[0]?.message ?? 'transaction aborted'}`);
    }
    return meta;
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    const exists = await this.redis.hget(this.key('model', name, 'v', version), 'meta');
    if (exists === null) throw new ModelError('MODEL_VERSION_UNKNOWN', `model ${name} has no version ${version}`);
    const tx = await this.redis.multi().hset(this.key('model', name, 'aliases'), alias, version).exec();
    if (tx === null || tx.some(([err]) => err !== null)) {
      throw new TransientError('REGISTRY_WRITE_FAILED', `could not set alias ${alias} of ${name}`);
    }
  }

  async resolveAlias(name: string, alias: string): Promise<string | undefined> {
    return (await this.redis.hget(this.key('model', name, 'aliases'), alias)) ?? undefined;
  }

  async getVersion(name: string, version: string): Promise<ModelArtifact | undefined> {
    const key = this.key('model', name, 'v', version);
    const [meta, bytes] = await Promise.all([this.redis.hget(key, 'meta'), this.redis.hgetBuffer(key, 'bytes')]);
    if (meta === null || bytes === null) return undefined;
    const parsed = JSON.parse(meta) as ModelVersionMeta;
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== parsed.sha256) {
      throw new ModelError('MODEL_CORRUPT', `model ${name} v${version}: stored bytes do not match their sha256`);
    }
    return { meta: parsed, bytes };
  }

  async listVersions(name: string): Promise<ModelVersionMeta[]> {
    const versions = await this.redis.lrange(this.key('model', name, 'versions'), 0, -1);
    const metas = await Promise.all(versions.map((v) => this.redis.hget(this.key('model', name, 'v', v), 'meta')));
    return metas.filter((m): m is string => m !== null).map((m) => JSON.parse(m) as ModelVersionMeta);
  }

  async listAliases(name: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.key('model', name, 'aliases'));
  }

  async listModels(): Promise<string[]> {
    return (await this.redis.smembers(this.key('models'))).sort();
  }
}
