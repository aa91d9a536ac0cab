/**
 * Turns message values into feature events. `prepare` is the only asynchronous step and runs once
 * per fetched batch (to fetch schemas not seen before); `decode` is synchronous, so the per-event
 * path has no await. `decode` throws `PoisonEventError` for a value it cannot read.
 */
export interface EventDecoder {
  prepare(values: readonly (Buffer | null)[]): Promise<void>;
  decode(value: Buffer | null): unknown;
}

/** Turns predictions into message values. */
export interface PredictionEncoder {
  readonly format: 'json' | 'avro';
  encode(prediction: PredictionRecord): Buffer | string;
}

export interface PredictionRecord {
  model: string;
  version: string;
  score: number | null;
  label: string | null;
  probabilities: number[] | null;
}

/** The narrow part of a Confluent-compatible schema registry client that the codecs use. */
export interface SchemaSource {
  /** Resolves the Avro type of a registered schema id; rejects with `status: 404` when unknown. */
  getSchema(id: number): Promise<AvroType>;
  /** Registers (or finds) a schema under a subject and returns its id. */
  register(schema: object, subject: string): Promise<number>;
}

/** What the codecs use of an avsc Type. */
export interface AvroType {
  fromBuffer(buffer: Buffer): unknown;
  toBuffer(value: unknown): Buffer;
}
