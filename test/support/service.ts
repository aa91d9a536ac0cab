import type { Config } from '../../src/config/index.js';
import type { BuiltModel } from '../../src/modelgen/models.js';
import { RedisModelStore, registerModel, type ModelVersionMeta } from '../../src/registry/index.js';
import { ScoringService } from '../../src/service/service.js';
import { deleteTopics, redisFor, testLog } from './harness.js';

export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
export const READ_TOKEN = 'read-token-0123456789abcdef';
export const TEST_TOKENS = `alice:admin:${ADMIN_TOKEN},bob:read:${READ_TOKEN}`;

/** Registers `model` under the config's model name, optionally aliased. */
export async function register(config: Config, model: BuiltModel, alias?: string): Promise<ModelVersionMeta> {
  const redis = redisFor(config);
  try {
    return await registerModel(
      new RedisModelStore(redis, config.redisKeyPrefix),
      config.modelName,
      { bytes: Buffer.from(model.bytes), features: model.features },
      { actor: 'test', ...(alias ? { alias } : {}) },
    );
  } finally {
    await redis.quit();
  }
}

/** Starts an in-process service; `cleanups` gets its shutdown and topic deletion. */
export async function startService(config: Config, cleanups: (() => Promise<void>)[]): Promise<{ service: ScoringService; url: string }> {
  const service = await ScoringService.create(config, testLog);
  cleanups.push(async () => {
    await service.close();
    await deleteTopics(config);
  });
  const { httpUrl } = await service.start();
  return { service, url: httpUrl };
}

/** A JSON call to the service's HTTP API with an optional bearer token; the answer's status and JSON body. */
export function apiCaller(url: string) {
  return async (method: string, path: string, token?: string, body?: object): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json().catch(() => undefined)) as any };
  };
}

/** A version written past validation, as a corrupted store would hold it: loading it always fails. */
export async function addUnloadableVersion(config: Config, features: readonly string[]): Promise<ModelVersionMeta> {
  const redis = redisFor(config);
  try {
    return await new RedisModelStore(redis, config.redisKeyPrefix).addVersion(config.modelName, { bytes: Buffer.from('not an onnx model'), features, outputs: { score: 'score' } }, 'test');
  } finally {
    await redis.quit();
  }
}
