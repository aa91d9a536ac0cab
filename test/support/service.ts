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
