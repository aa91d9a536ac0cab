import type { Config } from '../config/index.js';
import { jsonDecoder } from './json.js';
import { AutoDecoder, RegistryDecoder } from './registry-decoder.js';
import type { EventDecoder, SchemaSource } from './types.js';

export type { CompiledSchema, EventDecoder, OutputFormat, PredictionEncoder, PredictionRecord, SchemaKind, SchemaReference, SchemaSource, SchemaText, SubjectVersion } from './types.js';
export { PREDICTION_SCHEMA, compileAvro } from './avro.js';
export { compileSchema, fetchSchema, type CompileOptions } from './compile.js';
export { AutoDecoder, RegistryDecoder } from './registry-decoder.js';
export { MAGIC_BYTE, schemaIdOf, wireEncode } from './wire.js';
export { jsonDecoder, jsonPredictionEncoder, decodeJson } from './json.js';
export { predictionEncoderFor, type OutputSettings } from './output.js';
export { PREDICTION_PROTO, PREDICTION_JSON_SCHEMA, PREDICTION_RECORD, SchemaPredictionEncoder, predictionSchema } from './predictions.js';
export { subjectName, SUBJECT_NAME_STRATEGIES, type SubjectNameStrategy } from './subjects.js';
export { confluentSchemaSource, schemaRegistryClient, type RegistrySettings } from './registry-client.js';
export { RegistryRefusedError, SchemaNotFoundError, SchemaUnsupportedError, SubjectNotFoundError } from './errors.js';

/** The settings that decide how events are read. */
export type InputSettings = Pick<Config, 'inputFormat' | 'jsonSchemaValidate'>;

export function eventDecoderFor(settings: InputSettings, schemas: SchemaSource): EventDecoder {
  if (settings.inputFormat === 'json') return jsonDecoder;
  const registry = new RegistryDecoder(schemas, { validateJson: settings.jsonSchemaValidate });
  return settings.inputFormat === 'auto' ? new AutoDecoder(registry, jsonDecoder) : registry;
}
