import type { OutputMapping } from '../scoring/types.js';

/** What the registry keeps about one immutable model version (everything but the bytes). */
export interface ModelVersionMeta {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  readonly size: number;
  /** ISO-8601 time of registration. */
  readonly createdAt: string;
  readonly description: string;
  readonly features: readonly string[];
  readonly outputs: OutputMapping;
}

export interface ModelArtifact {
  readonly meta: ModelVersionMeta;
  readonly bytes: Buffer;
}

export interface NewModelVersion {
  readonly bytes: Buffer;
  readonly features: readonly string[];
  /** Inferred from the model when absent. */
  readonly outputs?: OutputMapping;
  readonly description?: string;
}

/**
 * The model source the scoring path reads: the narrow port over Redis. The registry issue grows
 * the store behind it (aliases of every kind, audit log, push notification) without changing this.
 */
export interface ModelSource {
  /** The version an alias points at, or undefined when the alias is not set. */
  resolveAlias(name: string, alias: string): Promise<string | undefined>;
  /** A version's bytes and metadata, or undefined when there is no such version. */
  getVersion(name: string, version: string): Promise<ModelArtifact | undefined>;
}

export interface ModelStore extends ModelSource {
  /** Stores a validated version under the next version number and returns its metadata. */
  addVersion(name: string, input: NewModelVersion & { outputs: OutputMapping }): Promise<ModelVersionMeta>;
  setAlias(name: string, alias: string, version: string): Promise<void>;
  listVersions(name: string): Promise<ModelVersionMeta[]>;
  listAliases(name: string): Promise<Record<string, string>>;
  listModels(): Promise<string[]>;
}

/** The Redis commands the registry uses, and nothing else (ioredis implements it). */
export interface RegistryRedis {
  get(key: string): Promise<string | null>;
  incr(key: string): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
  hgetBuffer(key: string, field: string): Promise<Buffer | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  smembers(key: string): Promise<string[]>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  multi(): RegistryRedisTransaction;
}

export interface RegistryRedisTransaction {
  hset(key: string, ...fieldValues: (string | Buffer)[]): RegistryRedisTransaction;
  rpush(key: string, ...values: string[]): RegistryRedisTransaction;
  sadd(key: string, ...members: string[]): RegistryRedisTransaction;
  exec(): Promise<[Error | null, unknown][] | null>;
}
