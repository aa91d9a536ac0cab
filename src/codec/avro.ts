import avro from 'avsc';
import type { NamedSchema } from './references.js';
import type { CompiledSchema, SchemaText } from './types.js';

/**
 * Compiles an Avro schema with avsc. Referenced schemas (named types defined in other subjects)
 * are compiled first into the same registry of names, so the main schema can use them.
 */
export function compileAvro(main: SchemaText, deps: readonly NamedSchema[]): CompiledSchema {
  const registry: Record<string, avro.Type> = {};
  for (const d of deps) if (d.type === 'AVRO') avro.Type.forSchema(JSON.parse(d.schema) as avro.Schema, { registry });
  const type = avro.Type.forSchema(JSON.parse(main.schema) as avro.Schema, { registry });
  return {
    type: 'AVRO',
    decode: (body) => type.fromBuffer(body) as unknown,
    encode: (value) => type.toBuffer(value),
  };
}

/** The Avro schema of predictions (record `kscore.Prediction`). */
export const PREDICTION_SCHEMA = {
  type: 'record',
  name: 'Prediction',
  namespace: 'kscore',
  fields: [
    { name: 'model', type: 'string' },
    { name: 'version', type: 'string' },
    { name: 'score', type: ['null', 'double'], default: null },
    { name: 'label', type: ['null', 'string'], default: null },
    { name: 'probabilities', type: ['null', { type: 'array', items: 'double' }], default: null },
  ],
} as const;
