import type { Config } from '../config/index.js';
import { ENV_NAMES } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { compileSchema } from './compile.js';
import { SchemaNotFoundError, SchemaUnsupportedError, SubjectNotFoundError } from './errors.js';
import { jsonPredictionEncoder } from './json.js';
import { KIND_OF, PREDICTION_RECORD, SchemaPredictionEncoder, predictionProblem, predictionSchema, type SchemaOutputFormat } from './predictions.js';
import { subjectName } from './subjects.js';
import type { CompiledSchema, PredictionEncoder, SchemaSource, SchemaText } from './types.js';

/** The settings that decide how predictions are written. */
export type OutputSettings = Pick<Config, 'outputFormat' | 'subjectNameStrategy' | 'autoRegisterSchemas' | 'outputSchemaId' | 'outputSchemaSubject'>;

interface ChosenSchema {
  id: number;
  text: SchemaText;
  /** Where the schema came from, in the words of the settings (for messages). */
  origin: string;
}

/**
 * The encoder of predictions written to `topic`. With a schema format, the schema is kscore's own,
 * registered under the subject of the naming strategy (or `KSCORE_OUTPUT_SCHEMA_SUBJECT`); or,
 * with registration off, the latest version of that subject; or the schema of
 * `KSCORE_OUTPUT_SCHEMA_ID`. Whichever it is, it must carry predictions: start-up stops with a
 * `ConfigError` naming the setting when it is missing, of another type, or incompatible.
 */
export async function predictionEncoderFor(settings: OutputSettings, source: SchemaSource, topic: string): Promise<PredictionEncoder> {
  if (settings.outputFormat === 'json') return jsonPredictionEncoder;
  const format = settings.outputFormat;
  const { id, text, origin } = await chooseSchema(settings, format, source, topic);
  const kind = KIND_OF[format];
  if (text.type !== kind) throw new ConfigError(`${origin}: schema id ${id} is a ${text.type} schema, but ${ENV_NAMES.outputFormat}=${format} writes ${kind}`);
  const checked = await compiled(id, text, source, true, origin);
  const problem = predictionProblem(checked);
  if (problem !== undefined) throw new ConfigError(`${origin}: schema id ${id} cannot carry predictions: ${problem}`);
  // JSON Schema: checked once here, not on every prediction.
  return new SchemaPredictionEncoder(format, id, kind === 'JSON' ? await compiled(id, text, source, false, origin) : checked);
}

async function chooseSchema(settings: OutputSettings, format: SchemaOutputFormat, source: SchemaSource, topic: string): Promise<ChosenSchema> {
  const n = ENV_NAMES;
  const givenId = settings.outputSchemaId;
  if (givenId !== undefined) {
    const origin = `${n.outputSchemaId}=${givenId}`;
    try {
      return { id: givenId, text: await source.schemaById(givenId), origin };
    } catch (err) {
      if (err instanceof SchemaNotFoundError) throw new ConfigError(`${origin}: the schema registry has no schema with this id`);
      throw unsupported(err, origin);
    }
  }
  const subject = settings.outputSchemaSubject ?? subjectName(settings.subjectNameStrategy, topic, PREDICTION_RECORD);
  const origin = settings.outputSchemaSubject !== undefined ? `${n.outputSchemaSubject}=${subject}` : `subject "${subject}" (${n.subjectNameStrategy}=${settings.subjectNameStrategy})`;
  if (settings.autoRegisterSchemas) {
    const text = predictionSchema(format);
    return { id: await source.register(text, subject), text, origin };
  }
  try {
    const latest = await source.subjectVersion(subject, 'latest');
    return { id: latest.id, text: latest, origin };
  } catch (err) {
    if (!(err instanceof SubjectNotFoundError)) throw unsupported(err, origin);
    throw new ConfigError(`${origin}: the subject has no schema in the schema registry, and ${n.autoRegisterSchemas}=false: register the prediction schema there, or name one with ${n.outputSchemaId}`);
  }
}

async function compiled(id: number, text: SchemaText, source: SchemaSource, validateJson: boolean, origin: string): Promise<CompiledSchema> {
  try {
    return await compileSchema(id, text, source, { validateJson });
  } catch (err) {
    throw unsupported(err, origin);
  }
}

function unsupported(err: unknown, origin: string): unknown {
  return err instanceof SchemaUnsupportedError ? new ConfigError(`${origin}: ${err.message}`) : err;
}
