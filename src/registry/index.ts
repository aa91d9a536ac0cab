export type { ModelArtifact, ModelSource, ModelStore, ModelVersionMeta, NewModelVersion, RegistryRedis } from './types.js';
export { RedisModelStore } from './redis-store.js';
export { registerModel } from './register.js';
