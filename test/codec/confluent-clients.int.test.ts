/**
 * kscore against Confluent's own Python clients (confluent-kafka from PyPI, through
 * scripts/confluent/serde.py), on the real registry and broker: events they serialize in Avro,
 * Protobuf and JSON Schema score like the model's reference, and predictions kscore writes in
 * those formats read back with their deserializers.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Partitioners } from 'kafkajs';
import { beforeAll, describe, expect, it } from 'vitest';
import { confluentSchemaSource, wireEncode, type PredictionRecord } from '../../src/codec/index.js';
import type { Config, ConfigInput } from '../../src/config/index.js';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { ScoringService } from '../../src/service/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';
import { collect, deleteTopics, ensureTopics, header, kafkaFor, sendEvents, testConfig, testLog, uniqueId } from '../support/harness.js';
import { register, startService } from '../support/service.js';
import { dropKeys, dropTopics, openJobs } from '../replay/helpers.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const cleanups = cleanupAfterEach();
const ROWS = 24;

let python: Promise<string> | undefined;
/** The Python environment of scripts/confluent/requirements.txt (made on first use). */
function venvPython(): Promise<string> {
  python ??= run(join(repo, 'scripts/python-env'), [join(repo, 'scripts/confluent/requirements.txt')], { maxBuffer: 16 << 20 }).then(({ stdout }) => join(stdout.trim(), 'bin/python'));
  return python;
}

/** Runs serde.py with the test's broker and registry; returns its standard output. */
async function serde(config: Config, args: string[], input = ''): Promise<string> {
  const env = { ...process.env, KAFKA_BROKERS: config.kafkaBrokers.join(','), SCHEMA_REGISTRY_URL: config.schemaRegistryUrl };
  const p = run(await venvPython(), [join(repo, 'scripts/confluent/serde.py'), ...args], { env, maxBuffer: 16 << 20 });
  p.child.stdin!.end(input);
  return (await p).stdout;
}

type PyFormat = 'avro' | 'protobuf' | 'json';

/** Python reads `count` predictions of the config's topic with the format's deserializer. */
async function readBack(config: Config, format: PyFormat, count: number, topic = config.predictionsTopic): Promise<Map<string, PredictionRecord>> {
  const out = await serde(config, ['consume', '--format', format, '--topic', topic, '--count', String(count)]);
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { key: string; value: PredictionRecord });
  return new Map(lines.map((l) => [l.key, l.value]));
}

/** A model, its rows and reference scores, registered as the config's production version. */
async function modelFor(config: Config): Promise<{ features: string[]; rows: number[][]; scores: Float32Array }> {
  const model = logistic(8, 17);
  await register(config, model, 'production');
  const flat = new Float32Array(ROWS * 8).map((_, i) => Math.fround(Math.sin(i * 1.3) * 0.9));
  const rows = Array.from({ length: ROWS }, (_, r) => Array.from(flat.subarray(r * 8, r * 8 + 8)));
  return { features: model.features, rows, scores: model.reference(flat, ROWS).score };
}

function expectScores(got: Map<string, PredictionRecord>, scores: Float32Array, config: Config): void {
  expect(got.size).toBe(scores.length);
  for (let i = 0; i < scores.length; i++) {
    const p = got.get(`r${i}`);
    expect(p?.model).toBe(config.modelName);
    expect(p?.version).toBe('1');
    expect(p?.score).toBeCloseTo(scores[i]!, 6);
  }
}

/** Each format under another subject strategy and input setting; JSON Schema events are validated. */
const CASES: { format: PyFormat; output: ConfigInput['outputFormat']; strategy: ConfigInput['subjectNameStrategy']; extra: Partial<ConfigInput> }[] = [
  { format: 'avro', output: 'avro', strategy: 'topic', extra: { inputFormat: 'confluent' } },
  { format: 'protobuf', output: 'protobuf', strategy: 'topic-record', extra: {} },
  { format: 'json', output: 'json-schema', strategy: 'record', extra: { jsonSchemaValidate: true } },
];

describe("Confluent's Python serializers", () => {
  // The first run installs the pinned clients from PyPI: in a hook, whose time limit allows it.
  beforeAll(() => venvPython().then(() => undefined));

  for (const { format, output, strategy, extra } of CASES) {
    it(`${format} events (subject strategy ${strategy}) score like the reference; ${output} predictions read back with the Python deserializer`, async () => {
      const config = testConfig({ featuresField: 'payload.features', outputFormat: output, subjectNameStrategy: strategy, ...extra });
      const { features, rows, scores } = await modelFor(config);
      await startService(config, cleanups);
      await serde(config, ['produce', '--format', format, '--topic', config.featuresTopic, '--namespace', `kt_${uniqueId()}`, '--strategy', strategy!], JSON.stringify({ features, rows }));
      const got = await readBack(config, format, ROWS);
      expectScores(got, scores, config);
      if (format === 'protobuf') expect(got.get('r0')?.label).toBeNull();
    });
  }

  it('with auto-registration off, predictions use the Protobuf schema the Python client registered (topic-record subject), and register nothing', async () => {
    const config = testConfig({ outputFormat: 'protobuf', autoRegisterSchemas: false, subjectNameStrategy: 'topic-record' });
    const subject = `${config.predictionsTopic}-kscore.Prediction`;
    const id = Number((await serde(config, ['register-prediction', '--subject', subject])).trim());
    const { features, rows, scores } = await modelFor(config);
    await startService(config, cleanups);
    await sendEvents(config, rows.map((row, i) => ({ key: `r${i}`, value: Object.fromEntries(features.map((f, j) => [f, row[j]])) })));

    expectScores(await readBack(config, 'protobuf', ROWS), scores, config);
    const raw = await collect(config, [config.predictionsTopic], (all) => all.length >= ROWS);
    expect(new Set(raw.map((c) => c.message.value!.readUInt32BE(1)))).toEqual(new Set([id]));
    const versions = (await fetch(`${config.schemaRegistryUrl}/subjects/${encodeURIComponent(subject)}/versions`).then((r) => r.json())) as number[];
    expect(versions).toHaveLength(1);
  });

  it('with auto-registration off, start-up stops naming the setting when the schema is missing or cannot carry predictions', async () => {
    const base = { outputFormat: 'protobuf', autoRegisterSchemas: false } as const;
    const missing = testConfig(base);
    cleanups.push(() => deleteTopics(missing));
    await expect(ScoringService.create(missing, testLog)).rejects.toThrow(`subject "${missing.predictionsTopic}-value" (KSCORE_SUBJECT_NAME_STRATEGY=topic): the subject has no schema in the schema registry, and KSCORE_AUTO_REGISTER_SCHEMAS=false`);

    const unknownId = testConfig({ ...base, outputSchemaId: 2_000_000_000 });
    cleanups.push(() => deleteTopics(unknownId));
    await expect(ScoringService.create(unknownId, testLog)).rejects.toThrow('KSCORE_OUTPUT_SCHEMA_ID=2000000000: the schema registry has no schema with this id');

    const incompatible = testConfig({ ...base, outputSchemaSubject: `t-prediction-${uniqueId()}` });
    cleanups.push(() => deleteTopics(incompatible));
    await serde(incompatible, ['register-prediction', '--subject', incompatible.outputSchemaSubject!, '--without-optional']);
    await expect(ScoringService.create(incompatible, testLog)).rejects.toThrow(/^KSCORE_OUTPUT_SCHEMA_SUBJECT=t-prediction-\w+: schema id \d+ cannot carry predictions: field "score" .*needs `optional`/);
  });

  it('an event whose schema kscore cannot read is dead-lettered as unsupported-schema, and the events after it score', async () => {
    const config = testConfig({ featuresField: 'payload.features', outputFormat: 'avro' });
    const { features, rows, scores } = await modelFor(config);
    // The registry accepts a Protobuf schema importing a file it does not have; kscore cannot compile it.
    const badId = await confluentSchemaSource(config).register(
      { type: 'PROTOBUF', schema: 'syntax = "proto3";\nimport "missing/thing.proto";\nmessage A { missing.Thing t = 1; }\n', references: [] },
      `t-unreadable-${uniqueId()}`,
    );
    await startService(config, cleanups);
    const kafka = kafkaFor(config);
    await ensureTopics(kafka, [config.featuresTopic], 1);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic: config.featuresTopic, messages: [{ key: 'bad', value: wireEncode(badId, Buffer.from([0, 8, 1])) }] });
    await producer.disconnect();
    await serde(config, ['produce', '--format', 'avro', '--topic', config.featuresTopic, '--namespace', `kt_${uniqueId()}`], JSON.stringify({ features, rows }));

    expectScores(await readBack(config, 'avro', ROWS), scores, config);
    const dead = await collect(config, [config.deadLetterTopic], (all) => all.length >= 1);
    expect(dead.map((d) => [d.message.key?.toString(), header(d.message, HEADERS.dlqReason)])).toEqual([['bad', 'unsupported-schema']]);
    expect(header(dead[0]!.message, HEADERS.dlqDetail)).toContain('missing/thing.proto');
  });

  it('a replay job (worker threads) reads Protobuf events and writes JSON Schema predictions the Python deserializer reads', async () => {
    const config = testConfig({ featuresField: 'payload.features', outputFormat: 'json-schema' });
    const replayTopic = `${config.predictionsTopic}.replay`;
    cleanups.push(() => dropTopics(config, [replayTopic]), () => dropKeys(config));
    const { features, rows, scores } = await modelFor(config);
    await ensureTopics(kafkaFor(config), [config.featuresTopic, replayTopic], config.topicPartitions);
    await serde(config, ['produce', '--format', 'protobuf', '--topic', config.featuresTopic, '--namespace', `kt_${uniqueId()}`], JSON.stringify({ features, rows }));

    const jobs = await openJobs(config, cleanups);
    const id = await jobs.start({ output: { kind: 'topic', topic: replayTopic }, tuning: { threads: 2, unitSize: 100 } });
    expect((await jobs.wait(id))!.state).toBe('succeeded');
    expectScores(await readBack(config, 'json', ROWS, replayTopic), scores, config);
  });
});
