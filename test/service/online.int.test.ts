import { describe, expect, it } from 'vitest';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../../src/config/index.js';
import { logistic, treeEnsemble, type BuiltModel } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { LoadGenerator, syntheticFeatures } from '../../src/producer/load-generator.js';
import { RedisModelStore, registerModel } from '../../src/registry/index.js';
import { ScoringService } from '../../src/service/service.js';
import { collect, deleteTopics, header, produceEvents, redisFor, testConfig, testLog } from '../support/harness.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

async function startService(config: Config, model: BuiltModel): Promise<ScoringService> {
  const redis = redisFor(config);
  const meta = await registerModel(
    new RedisModelStore(redis, config.redisKeyPrefix),
    config.modelName,
    { bytes: Buffer.from(model.bytes), features: model.features },
    { alias: config.modelAlias },
  );
  expect(meta.version).toBe('1');
  await redis.quit();
  const service = await ScoringService.create(config, testLog);
  cleanups.push(async () => {
    await service.close();
    await deleteTopics(config);
  });
  await service.start();
  return service;
}

/** The reference score of synthetic event `i`, computed in plain JS from the same weights. */
function referenceScores(model: BuiltModel, n: number, seed: number): Float32Array {
  const rows = new Float32Array(n * model.features.length);
  for (let i = 0; i < n; i++) {
    const ev = syntheticFeatures(i, model.features, seed);
    model.features.forEach((f, j) => (rows[i * model.features.length + j] = ev[f]!));
  }
  const out = model.reference(rows, n);
  return (out['score'] ?? out['probabilities']) as Float32Array;
}

const keyIndex = (key: Buffer | null): number => Number(key!.toString().slice(1));

describe('online scoring, end to end against real Kafka, Redis and schema registry', () => {
  it('scores N JSON events into exactly N predictions equal to the reference', async () => {
    const config = testConfig({ maxBatchSize: 64 });
    const model = logistic(32, 7);
    await startService(config, model);
    const N = 3000;
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: model.features, seed: 3 });
    const got = await collect(config, [config.predictionsTopic], (all) => all.length >= N);
    const expected = referenceScores(model, N, 3);

    expect(got.length).toBe(N);
    const keys = new Set(got.map((g) => keyIndex(g.message.key)));
    expect(keys.size).toBe(N);
    let maxDiff = 0;
    for (const { message } of got) {
      const i = keyIndex(message.key);
      const value = JSON.parse(message.value!.toString()) as { score: number; model: string; version: string };
      maxDiff = Math.max(maxDiff, Math.abs(value.score - expected[i]!));
      expect(value.model).toBe(config.modelName);
      expect(header(message, HEADERS.model)).toBe(config.modelName);
      expect(header(message, HEADERS.version)).toBe('1');
      expect(header(message, HEADERS.sourceTopic)).toBe(config.featuresTopic);
      expect(header(message, HEADERS.sourceOffset)).toMatch(/^\d+$/);
    }
    expect(maxDiff).toBeLessThan(1e-6);
    // Source coordinates are unique: no event was scored twice.
    const coords = new Set(got.map((g) => `${header(g.message, HEADERS.sourcePartition)}/${header(g.message, HEADERS.sourceOffset)}`));
    expect(coords.size).toBe(N);
  });

  it('scores N Avro events (Confluent wire format) into N Avro predictions equal to the reference', async () => {
    const config = testConfig({ inputFormat: 'avro', outputFormat: 'avro' });
    const model = treeEnsemble(16, 40, 4, 11);
    await startService(config, model);
    const N = 1500;
    await produceEvents(config, { rate: 0, count: N, format: 'avro', features: model.features, seed: 5 });
    const got = await collect(config, [config.predictionsTopic], (all) => all.length >= N);
    const rows = new Float32Array(N * 16);
    for (let i = 0; i < N; i++) {
      const ev = syntheticFeatures(i, model.features, 5);
      model.features.forEach((f, j) => (rows[i * 16 + j] = ev[f]!));
    }
    const ref = model.reference(rows, N) as { label: BigInt64Array; probabilities: Float32Array };
    const registry = new SchemaRegistry({ host: config.schemaRegistryUrl });

    expect(got.length).toBe(N);
    expect(new Set(got.map((g) => keyIndex(g.message.key))).size).toBe(N);
    for (const { message } of got) {
      expect(message.value![0]).toBe(0); // Confluent magic byte
      const i = keyIndex(message.key);
      const p = (await registry.decode(message.value!)) as { label: string; probabilities: number[] };
      expect(p.label).toBe(String(ref.label[i]));
      expect(Math.abs(p.probabilities[0]! - ref.probabilities[i * 2]!)).toBeLessThan(1e-6);
      expect(Math.abs(p.probabilities[1]! - ref.probabilities[i * 2 + 1]!)).toBeLessThan(1e-6);
    }
  });

  it('dead-letters each kind of bad event with its reason and keeps scoring the events around it', async () => {
    const config = testConfig();
    const model = logistic(8, 1);
    await startService(config, model);
    const N = 1000;
    const badEvery = 10;
    // Avro format exercises all five kinds: undecodable, unknown schema, missing, non-numeric, non-finite.
    await produceEvents(config, { rate: 0, count: N, format: 'avro', features: model.features, badEvery, seed: 9 });
    const got = await collect(config, [config.predictionsTopic, config.deadLetterTopic], (all) => all.length >= N);
    const dead = got.filter((g) => g.topic === config.deadLetterTopic);
    const sources = await collect(config, [config.featuresTopic], (all) => all.length >= N);
    const sourceByKey = new Map(sources.map((s) => [s.message.key!.toString(), s.message]));
    const scored = got.filter((g) => g.topic === config.predictionsTopic);

    const gen = new LoadGenerator(null as never, null as never, { topic: '', rate: 0, format: 'avro', features: model.features, badEvery });
    const expectedBad = new Map<number, string>();
    for (let i = 0; i < N; i++) {
      const kind = gen.badKindOf(i);
      if (kind !== undefined) expectedBad.set(i, kind);
    }
    expect(new Set(expectedBad.values()).size).toBe(5);
    expect(dead.length).toBe(expectedBad.size);
    expect(scored.length).toBe(N - expectedBad.size);
    for (const { message } of dead) {
      const i = keyIndex(message.key);
      expect(header(message, HEADERS.dlqReason)).toBe(expectedBad.get(i));
      expect(header(message, HEADERS.dlqDetail)?.length).toBeGreaterThan(0);
      expect(header(message, HEADERS.sourceTopic)).toBe(config.featuresTopic);
      // The original value and coordinates are kept byte for byte.
      const source = sourceByKey.get(message.key!.toString())!;
      expect(message.value!.equals(source.value!)).toBe(true);
      expect(header(message, HEADERS.sourceOffset)).toBe(source.offset);
    }
    const expected = referenceScores(model, N, 9);
    for (const { message } of scored) {
      const i = keyIndex(message.key);
      expect(expectedBad.has(i)).toBe(false);
      expect(Math.abs((JSON.parse(message.value!.toString()) as { score: number }).score - expected[i]!)).toBeLessThan(1e-6);
    }
  });
});
