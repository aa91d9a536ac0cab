import { errorMessage } from '../errors.js';
import { PREDICTION_SCHEMA } from './avro.js';
import type { CompiledSchema, OutputFormat, PredictionEncoder, PredictionRecord, SchemaKind, SchemaText } from './types.js';
import { wireEncode } from './wire.js';

/** The record name of predictions in every format (Avro record, Protobuf message, JSON Schema title). */
export const PREDICTION_RECORD = 'kscore.Prediction';

export type SchemaOutputFormat = Exclude<OutputFormat, 'json'>;

export const KIND_OF: Readonly<Record<SchemaOutputFormat, SchemaKind>> = { avro: 'AVRO', protobuf: 'PROTOBUF', 'json-schema': 'JSON' };

/**
 * The prediction as Protobuf: `optional` gives score and label presence, so a model without them
 * writes no field (read back as unset, not 0 or ""); probabilities without values are empty.
 */
export const PREDICTION_PROTO = `syntax = "proto3";
package kscore;

message Prediction {
  string model = 1;
  string version = 2;
  optional double score = 3;
  optional string label = 4;
  repeated double probabilities = 5;
}
`;

export const PREDICTION_JSON_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: PREDICTION_RECORD,
  type: 'object',
  properties: {
    model: { type: 'string' },
    version: { type: 'string' },
    score: { type: ['number', 'null'] },
    label: { type: ['string', 'null'] },
    probabilities: { type: ['array', 'null'], items: { type: 'number' } },
  },
  required: ['model', 'version', 'score', 'label', 'probabilities'],
} as const;

/** kscore's own prediction schema in a format, as it registers it. */
export function predictionSchema(format: SchemaOutputFormat): SchemaText {
  const schema = format === 'avro' ? JSON.stringify(PREDICTION_SCHEMA) : format === 'protobuf' ? PREDICTION_PROTO : JSON.stringify(PREDICTION_JSON_SCHEMA);
  return { type: KIND_OF[format], schema, references: [] };
}

/** Writes predictions in the wire format, with a registered schema's id. */
export class SchemaPredictionEncoder implements PredictionEncoder {
  constructor(
    readonly format: SchemaOutputFormat,
    readonly schemaId: number,
    private readonly schema: CompiledSchema,
  ) {}

  encode(p: PredictionRecord): Buffer {
    return wireEncode(this.schemaId, this.schema.encode(p));
  }
}

/** Predictions the check writes and reads back; the numbers are exact in float32, so a float field passes too. */
const SAMPLES: readonly PredictionRecord[] = [
  { model: 'm', version: '1', score: 0.5, label: '1', probabilities: [0.25, 0.75] },
  { model: 'm', version: '1', score: null, label: null, probabilities: null },
];
const FIELDS = ['model', 'version', 'score', 'label', 'probabilities'] as const;

/**
 * Whether a schema can carry predictions: each sample must encode, and decode back to what was
 * written, field by field (a missing field, another type, a field that cannot be null, an extra
 * field that is required). Returns the first problem, or undefined.
 */
export function predictionProblem(schema: CompiledSchema): string | undefined {
  for (const sample of SAMPLES) {
    let back: Record<string, unknown>;
    try {
      back = (schema.decode(schema.encode(sample)) ?? {}) as Record<string, unknown>;
    } catch (err) {
      return `a prediction does not fit it (${errorMessage(err)})`;
    }
    for (const f of FIELDS) {
      if (sample[f] !== null && back[f] === undefined) return `it has no field "${f}"`;
      const wrote = comparable(sample[f], schema.type);
      const read = comparable(back[f], schema.type);
      if (wrote !== read) {
        const hint = schema.type === 'PROTOBUF' && sample[f] === null ? ' (a Protobuf field that can be unset needs `optional`)' : '';
        return `field "${f}" is written as ${wrote} but reads back as ${read}${hint}`;
      }
    }
  }
  return undefined;
}

/** A field's value as text to compare: unset is null; in Protobuf, no probabilities is an empty list. */
function comparable(v: unknown, type: SchemaKind): string {
  if (v === undefined || (type === 'PROTOBUF' && Array.isArray(v) && v.length === 0)) return 'null';
  return JSON.stringify(Array.isArray(v) ? [...(v as unknown[])] : v);
}
