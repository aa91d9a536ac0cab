export type {
  AuditEntry,
  AuditLog,
  AuditQuery,
  FeatureBaseline,
  ModelArtifact,
  ModelSource,
  ModelStore,
  ModelVersionMeta,
  NewAuditEntry,
  NewModelVersion,
  Routing,
  TrafficSplit,
} from './types.js';
export type { RegistryRedis, RegistrySubscriber } from './redis-port.js';
export { RedisModelStore, modelStoreFor, versionMeta, type RedisModelStoreOptions } from './redis-store.js';
export { ModelFileStore } from './file-store.js';
export { registerModel } from './register.js';
export { contractsFor, promoteVersion, schemaContracts, type ContractChecker, type ContractReport } from './contracts.js';
export { connectRedis } from './redis-client.js';
