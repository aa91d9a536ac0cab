import type { InputMapping } from '../scoring/inputs.js';
import type { FeatureBaseline, InputSpec, OutputMapping } from '../scoring/types.js';

export type { FeatureBaseline, InputMapping, InputSpec };

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
  /** Every event field the model reads, input by input, column by column. */
  readonly features: readonly string[];
  /**
   * The model's inputs: name, element type, shape and the event fields that fill each. Absent on
   * versions registered before typed inputs, which take one float32 input of `features`.
   */
  readonly inputs?: readonly InputSpec[];
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
  /**
   * Event fields in column order of the model's one input, or the names of its one-column inputs.
   * Absent with `inputs` or when every input is one column wide (each takes the field of its name).
   */
  readonly features?: readonly string[];
  /** Which event fields fill which model input, by input name (one field per column). */
  readonly inputs?: InputMapping;
  /** Inferred from the model when absent; `positiveClass` picks the probability that is the score. */
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

/** What the registry itself records about models. */
export type ModelAuditAction = 'register' | 'set-alias' | 'rollback' | 'delete-alias' | 'set-split' | 'refused' | 'contract-override';
/** What other parts record: a replay written into the live predictions topic, changes to schedules. */
export type OtherAuditAction =
  | 'replay-into-live-topic'
  | 'schedule-create'
  | 'schedule-delete'
  | 'schedule-pause'
  | 'schedule-resume'
  | 'schedule-run-now';

export interface AuditEntry {
  readonly id: string;
  readonly at: string;
  readonly actor: string;
  readonly action: ModelAuditAction | OtherAuditAction;
  /** The model concerned (every model action names one; others when they have one). */
  readonly model?: string;
  readonly version?: string;
  readonly alias?: string;
  /** The replay job concerned. */
  readonly job?: string;
  /** The schedule concerned. */
  readonly schedule?: string;
  readonly detail?: string;
}

/** A new entry, as a caller hands it in (the log adds its id and time). */
export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'>;

/** Filters of the audit log: by model, by schedule, how many (newest first). */
export interface AuditQuery {
  model?: string;
  schedule?: string;
  limit?: number;
}

/**
 * The append-only audit log (the registry's Redis stream): every model change goes there inside
 * the change's own transaction; other parts append their entries with `record`.
 */
export interface AuditLog {
  record(entry: NewAuditEntry): Promise<void>;
  audit(options?: AuditQuery): Promise<AuditEntry[]>;
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

/** A version as the store writes it: the request with what loading the model resolved. */
export type ValidatedVersion = Omit<NewModelVersion, 'features' | 'inputs' | 'outputs'> & {
  readonly features: readonly string[];
  /** Absent: one float32 input of `features` (as versions registered before typed inputs). */
  readonly inputs?: readonly InputSpec[];
  readonly outputs: OutputMapping;
};

/** The registry's storage. Every write records who did it in the audit log and tells replicas. */
export interface ModelStore extends ModelSource, AuditLog {
  addVersion(name: string, input: ValidatedVersion, actor: string): Promise<ModelVersionMeta>;
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
}
