import type { FeatureBaseline, OutputMapping } from '../scoring/types.js';

export type { FeatureBaseline };

/** One input feature of a model. Every feature is read as a number into a float32 column. */
export interface FeatureSpec {
  readonly name: string;
  readonly type: 'float32';
}

/** Where a version's bytes are: inline in Redis, or in the file store (path relative to it). */
export type ModelStorage = { readonly kind: 'inline' } | { readonly kind: 'file'; readonly path: string };

/** What the registry keeps about one immutable model version (everything but the bytes). */
export interface ModelVersionMeta {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  readonly size: number;
  /** ISO-8601 time of registration. */
  readonly createdAt: string;
  readonly createdBy: string;
  readonly description: string;
  /** Feature names in input-column order. */
  readonly features: readonly string[];
  readonly inputSchema: { readonly name: string; readonly shape: readonly (number | string)[]; readonly features: readonly FeatureSpec[] };
  readonly outputs: OutputMapping;
  readonly storage: ModelStorage;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly baseline?: Readonly<Record<string, FeatureBaseline>>;
}

export interface ModelArtifact {
  readonly meta: ModelVersionMeta;
  readonly bytes: Buffer;
}

/** A registration request. Validated before anything is stored. */
export interface NewModelVersion {
  readonly bytes: Buffer;
  readonly features: readonly string[];
  /** Inferred from the model when absent. */
  readonly outputs?: OutputMapping;
  readonly description?: string;
  readonly metrics?: Record<string, number>;
  readonly baseline?: Record<string, FeatureBaseline>;
}

/** A deterministic share of event keys routed to another alias (a canary). */
export interface TrafficSplit {
  readonly alias: string;
  /** Share of keys, from 0 to 1. */
  readonly share: number;
}

/** Everything a serving replica needs to know to pick versions, read in one round trip. */
export interface Routing {
  readonly aliases: Readonly<Record<string, string>>;
  readonly split?: TrafficSplit;
}

export interface AuditEntry {
  readonly id: string;
  readonly at: string;
  readonly actor: string;
  readonly action: 'register' | 'set-alias' | 'rollback' | 'delete-alias' | 'set-split' | 'refused';
  readonly model: string;
  readonly version?: string;
  readonly alias?: string;
  readonly detail?: string;
}

/** What replicas are told when routing changes (Redis pub/sub). */
export interface RoutingChanged {
  readonly model: string;
}

/**
 * The model source the scoring path reads: the narrow port over the registry.
 */
export interface ModelSource {
  routing(name: string): Promise<Routing>;
  /** A version's bytes and metadata, or undefined when there is no such version. */
  getVersion(name: string, version: string): Promise<ModelArtifact | undefined>;
}

/** The registry's storage. Every write records who did it in the audit log and tells replicas. */
export interface ModelStore extends ModelSource {
  addVersion(name: string, input: NewModelVersion & { outputs: OutputMapping; inputName: string; inputShape: readonly (number | string)[] }, actor: string): Promise<ModelVersionMeta>;
  setAlias(name: string, alias: string, version: string, actor: string): Promise<void>;
  /** Points the alias back at the version it had before its last change; returns that version. */
  rollbackAlias(name: string, alias: string, actor: string): Promise<string>;
  deleteAlias(name: string, alias: string, actor: string): Promise<void>;
  setSplit(name: string, split: TrafficSplit | undefined, actor: string): Promise<void>;
  recordRefusal(name: string, reason: string, actor: string): Promise<void>;
  resolveAlias(name: string, alias: string): Promise<string | undefined>;
  getMeta(name: string, version: string): Promise<ModelVersionMeta | undefined>;
  listVersions(name: string): Promise<ModelVersionMeta[]>;
  listModels(): Promise<string[]>;
  audit(options?: { model?: string; limit?: number }): Promise<AuditEntry[]>;
}
