import type { Config } from '../config/index.js';
import { AutoDecoder, AvroDecoder, AvroPredictionEncoder } from './avro.js';
import { jsonDecoder, jsonPredictionEncoder } from './json.js';
import type { EventDecoder, PredictionEncoder, SchemaSource } from './types.js';

export type { EventDecoder, PredictionEncoder, PredictionRecord, SchemaSource, AvroType } from './types.js';
export { AvroDecoder, AutoDecoder, AvroPredictionEncoder, PREDICTION_SCHEMA, schemaIdOf, wireEncode } from './avro.js';
export { jsonDecoder, jsonPredictionEncoder, decodeJson } from './json.js';
export { confluentSchemaSource } from './registry-client.js';

export function eventDecoderFor(format: Config['inputFormat'], schemas: SchemaSource): EventDecoder {
  if (format === 'json') return jsonDecoder;
  const avro = new AvroDecoder(schemas);
  return format === 'avro' ? avro : new AutoDecoder(avro, jsonDecoder);
}

export async function predictionEncoderFor(config: Config, schemas: SchemaSource): Promise<PredictionEncoder> {
  return config.outputFormat === 'json'
    ? jsonPredictionEncoder
    : AvroPredictionEncoder.create(schemas, `${config.predictionsTopic}-value`);
}
