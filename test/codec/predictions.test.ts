import { describe, expect, it } from 'vitest';
import { compileSchema } from '../../src/codec/compile.js';
import { predictionEncoderFor, type OutputSettings } from '../../src/codec/output.js';
import { PREDICTION_PROTO, type SchemaPredictionEncoder } from '../../src/codec/predictions.js';
import { jsonPredictionEncoder } from '../../src/codec/json.js';
import type { PredictionRecord } from '../../src/codec/types.js';
import { schemaIdOf } from '../../src/codec/wire.js';
import { ConfigError } from '../../src/errors.js';
import { FakeRegistry } from './fake-registry.js';

const FULL: PredictionRecord = { model: 'm', version: '7', score: 0.25, label: '1', probabilities: [0.75, 0.25] };
const EMPTY: PredictionRecord = { model: 'm', version: '1', score: null, label: null, probabilities: null };
const settings = (o: Partial<OutputSettings>): OutputSettings => ({ outputFormat: 'avro', subjectNameStrategy: 'topic', autoRegisterSchemas: true, outputSchemaId: undefined, outputSchemaSubject: undefined, ...o });

/** Reads a written prediction back with the schema its id names, as a consumer would. */
async function readBack(registry: FakeRegistry, wire: Buffer): Promise<unknown> {
  const id = schemaIdOf(wire)!;
  return (await compileSchema(id, await registry.schemaById(id), registry, { validateJson: true })).decode(wire.subarray(5));
}

async function refusal(registry: FakeRegistry, s: OutputSettings): Promise<string> {
  const err = await predictionEncoderFor(s, registry, 'preds').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return (err as Error).message;
}

describe('predictionEncoderFor', () => {
  it('writes JSON without a schema by default', async () => {
    expect(await predictionEncoderFor(settings({ outputFormat: 'json' }), new FakeRegistry(), 'preds')).toBe(jsonPredictionEncoder);
  });

  it.each([
    ['avro', FULL, EMPTY],
    ['json-schema', FULL, EMPTY],
    // Protobuf: unset score and label are absent, no probabilities an empty list.
    ['protobuf', FULL, { model: 'm', version: '1', probabilities: [] }],
  ] as const)('registers its own %s schema under <topic>-value and writes predictions that read back', async (format, full, empty) => {
    const registry = new FakeRegistry();
    registry.add('{"type":"string"}'); // so the prediction schema's id is not 1 by chance
    const encoder = await predictionEncoderFor(settings({ outputFormat: format }), registry, 'preds');
    expect(encoder.format).toBe(format);
    expect(registry.registered.map((r) => [r.subject, r.schema.type])).toEqual([['preds-value', { avro: 'AVRO', 'json-schema': 'JSON', protobuf: 'PROTOBUF' }[format]]]);
    const wire = encoder.encode(FULL) as Buffer;
    expect(schemaIdOf(wire)).toBe(2);
    expect(await readBack(registry, wire)).toEqual(full);
    expect(await readBack(registry, encoder.encode(EMPTY) as Buffer)).toEqual(empty);
  });

  it.each([
    ['record', undefined, 'kscore.Prediction'],
    ['topic-record', undefined, 'preds-kscore.Prediction'],
    ['topic', 'my-contract', 'my-contract'],
  ] as const)('names the subject by the %s strategy, or by KSCORE_OUTPUT_SCHEMA_SUBJECT', async (strategy, subject, expected) => {
    const registry = new FakeRegistry();
    await predictionEncoderFor(settings({ subjectNameStrategy: strategy, outputSchemaSubject: subject }), registry, 'preds');
    expect(registry.registered.map((r) => r.subject)).toEqual([expected]);
  });

  it('with registration off, uses the latest schema of the subject and registers nothing', async () => {
    const registry = new FakeRegistry();
    registry.add(PREDICTION_PROTO, 'PROTOBUF', { subject: 'preds-value' });
    const latest = registry.add(PREDICTION_PROTO.replace('repeated double probabilities = 5;', 'repeated double probabilities = 5;\n  string note = 6;'), 'PROTOBUF', { subject: 'preds-value' });
    const encoder = await predictionEncoderFor(settings({ outputFormat: 'protobuf', autoRegisterSchemas: false }), registry, 'preds');
    expect(registry.registered).toEqual([]);
    expect((encoder as SchemaPredictionEncoder).schemaId).toBe(latest);
  });

  it('with KSCORE_OUTPUT_SCHEMA_ID, uses that schema (which may carry more optional fields)', async () => {
    const registry = new FakeRegistry();
    const id = registry.add({
      type: 'record',
      name: 'Scored',
      fields: [
        { name: 'model', type: 'string' },
        { name: 'version', type: 'string' },
        { name: 'score', type: ['null', 'float'], default: null },
        { name: 'label', type: ['null', 'string'], default: null },
        { name: 'probabilities', type: ['null', { type: 'array', items: 'float' }], default: null },
        { name: 'team', type: 'string', default: 'risk' },
      ],
    });
    const encoder = await predictionEncoderFor(settings({ outputSchemaId: id, autoRegisterSchemas: false }), registry, 'preds');
    expect(registry.registered).toEqual([]);
    expect(await readBack(registry, encoder.encode(FULL) as Buffer)).toEqual({ ...FULL, team: 'risk' });
  });

  it('says which setting to fix when the schema is missing', async () => {
    const registry = new FakeRegistry();
    expect(await refusal(registry, settings({ autoRegisterSchemas: false }))).toMatch(/subject "preds-value" \(KSCORE_SUBJECT_NAME_STRATEGY=topic\): the subject has no schema .*KSCORE_AUTO_REGISTER_SCHEMAS=false/);
    expect(await refusal(registry, settings({ autoRegisterSchemas: false, outputSchemaSubject: 'contract' }))).toMatch(/^KSCORE_OUTPUT_SCHEMA_SUBJECT=contract: the subject has no schema/);
    expect(await refusal(registry, settings({ outputSchemaId: 99 }))).toMatch(/^KSCORE_OUTPUT_SCHEMA_ID=99: the schema registry has no schema with this id/);
  });

  it.each([
    ['of another type', 'PROTOBUF', PREDICTION_PROTO, /is a PROTOBUF schema, but KSCORE_OUTPUT_FORMAT=avro writes AVRO/],
    ['without a field', 'AVRO', { type: 'record', name: 'P', fields: [{ name: 'model', type: 'string' }, { name: 'version', type: 'string' }] }, /cannot carry predictions: it has no field "score"/],
    ['whose score cannot be null', 'AVRO', { type: 'record', name: 'P', fields: ['model', 'version', 'label'].map((name) => ({ name, type: ['null', 'string'] })).concat([{ name: 'score', type: 'double' } as never, { name: 'probabilities', type: ['null', { type: 'array', items: 'double' }] } as never]) }, /cannot carry predictions: a prediction does not fit it/],
    ['with a required field predictions lack', 'AVRO', { type: 'record', name: 'P', fields: [{ name: 'owner', type: 'string' }] }, /a prediction does not fit it/],
    ['with a label of another type', 'AVRO', { type: 'record', name: 'P', fields: [{ name: 'model', type: 'string' }, { name: 'version', type: 'string' }, { name: 'score', type: ['null', 'double'] }, { name: 'label', type: ['null', 'int'] }, { name: 'probabilities', type: ['null', { type: 'array', items: 'double' }] }] }, /a prediction does not fit it/],
  ])('refuses a schema %s, naming the setting', async (_, type, schema, message) => {
    const registry = new FakeRegistry();
    const id = registry.add(schema, type);
    expect(await refusal(registry, settings({ outputSchemaId: id }))).toMatch(new RegExp(`^KSCORE_OUTPUT_SCHEMA_ID=${id}: .*${message.source}`));
  });

  it('refuses a Protobuf schema whose score has no presence, saying to use optional', async () => {
    const registry = new FakeRegistry();
    const id = registry.add(PREDICTION_PROTO.replace('optional double score', 'double score'), 'PROTOBUF', { subject: 'preds-value' });
    const message = await refusal(registry, settings({ outputFormat: 'protobuf', autoRegisterSchemas: false }));
    expect(message).toContain(`schema id ${id} cannot carry predictions: field "score" is written as null but reads back as 0 (a Protobuf field that can be unset needs \`optional\`)`);
  });

  it('refuses a JSON schema that predictions do not match, and one that does not compile', async () => {
    const registry = new FakeRegistry();
    const strict = registry.add(JSON.stringify({ type: 'object', required: ['owner'] }), 'JSON');
    expect(await refusal(registry, settings({ outputFormat: 'json-schema', outputSchemaId: strict }))).toMatch(/must have required property 'owner'/);
    const broken = registry.add(JSON.stringify({ type: 'objectx' }), 'JSON');
    expect(await refusal(registry, settings({ outputFormat: 'json-schema', outputSchemaId: broken }))).toMatch(/cannot be read/);
  });
});
