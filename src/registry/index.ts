export type {
  AuditEntry,
  FeatureBaseline,
  ModelArtifact,
  ModelSource,
  ModelStore,
  ModelVersionMeta,
  NewModelVersion,
  Routing,
  TrafficSplit,
} from './types.js';
export type { RegistryRedis, RegistrySubscriber } from './redis-port.js';
export { RedisModelStore, versionMeta, type RedisModelStoreOptions } from './redis-store.js';
export { ModelFileStore } from './file-store.js';
export { registerModel } from './register.js';
export { connectRedis } from './redis-client.js';
