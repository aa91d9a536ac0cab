/**
 * Turns message values into feature events. `prepare` is the only asynchronous step and runs once
 * per fetched batch (to fetch and compile schemas not seen before); `decode` is synchronous, so the
 * per-event path has no await. `decode` throws `PoisonEventError` for a value it cannot read.
 */
export interface EventDecoder {
  prepare(values: readonly (Buffer | null)[]): Promise<void>;
  decode(value: Buffer | null): unknown;
}

export type OutputFormat = 'json' | 'avro' | 'protobuf' | 'json-schema';

/** Turns predictions into message values. */
export interface PredictionEncoder {
  readonly format: OutputFormat;
  encode(prediction: PredictionRecord): Buffer | string;
}

export interface PredictionRecord {
  model: string;
  version: string;
  score: number | null;
  label: string | null;
  probabilities: number[] | null;
}

/** The schema types of a Confluent-compatible registry. */
export type SchemaKind = 'AVRO' | 'PROTOBUF' | 'JSON';

/** Another registered schema a schema imports: by its import name, at a subject's version. */
export interface SchemaReference {
  name: string;
  subject: string;
  version: number;
}

/** A schema as the registry holds it: its type, its text, the schemas it references. */
export interface SchemaText {
  type: SchemaKind;
  schema: string;
  references: readonly SchemaReference[];
}

export interface SubjectVersion extends SchemaText {
  id: number;
  subject: string;
  version: number;
}

/** The narrow part of a Confluent-compatible schema registry client that the codecs use. */
export interface SchemaSource {
  /**
   * The schema registered under an id. Rejects with `SchemaNotFoundError` when the registry does
   * not know the id, `SchemaUnsupportedError` when its type is none of AVRO, PROTOBUF and JSON, a
   * retryable `TransientError` when the registry cannot be reached, `RegistryRefusedError` when
   * it refuses the service.
   */
  schemaById(id: number): Promise<SchemaText>;
  /** A version of a subject (`latest`, or its number); `SubjectNotFoundError` when there is none, else as above. */
  subjectVersion(subject: string, version: number | 'latest'): Promise<SubjectVersion>;
  /** Registers (or finds) a schema under a subject and returns its id. */
  register(schema: SchemaText, subject: string): Promise<number>;
}

/**
 * A registered schema made ready to use: `decode` reads a body (what follows the 5-byte header),
 * `encode` writes one. Both are synchronous and throw on a value that does not fit the schema.
 */
export interface CompiledSchema {
  readonly type: SchemaKind;
  decode(body: Buffer): unknown;
  encode(value: unknown): Buffer;
}
