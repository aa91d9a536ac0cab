import { describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import type { Config } from '../../src/config/index.js';
import { typedClassifier, type TypedEvent } from '../../src/modelgen/typed.js';
import { CONNECT_HEADERS, HEADERS } from '../../src/producer/provenance.js';
import { RedisModelStore, registerModel, type ModelVersionMeta, type NewModelVersion } from '../../src/registry/index.js';
import { collect, header, redisFor, sendAvroEvents, sendEvents, testConfig, type TestEvent } from '../support/harness.js';
import { startService } from '../support/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();
const model = typedClassifier();
/** Event times well in the past, one second apart: a prediction must carry its event's, not the time it was scored. */
const T0 = Date.UTC(2026, 0, 1);

async function registerTyped(config: Config, extra: Partial<NewModelVersion> = {}): Promise<ModelVersionMeta> {
  const redis = redisFor(config);
  try {
    const store = new RedisModelStore(redis, config.redisKeyPrefix);
    return await registerModel(store, config.modelName, { bytes: Buffer.from(model.bytes), inputs: model.inputs, ...extra }, { alias: config.modelAlias });
  } finally {
    await redis.quit();
  }
}

/** Events with index keys and timestamps; `bad` replaces some events' fields with values that do not convert. */
function events(n: number, seed: number, bad: ReadonlyMap<number, Partial<Record<keyof TypedEvent, unknown>>> = new Map()): TestEvent[] {
  return model.events(n, seed).map((e, i) => ({ key: `r${i}`, value: { ...e, ...bad.get(i) }, timestampMs: T0 + i * 1000 }));
}

const index = (m: KafkaMessage): number => Number(m.key!.toString().slice(1));

describe('a model of typed inputs (float, double, int64, int32, bool, string) against real Kafka and Redis', () => {
  it('reads its inputs at registration, scores JSON events like the reference, and gives each prediction its event time', async () => {
    const config = testConfig();
    const meta = await registerTyped(config);
    expect(meta.inputs?.map((i) => [i.name, i.type, i.fields])).toEqual([
      ['num', 'float32', ['a', 'b']],
      ['ratio', 'float64', ['ratio']],
      ['count', 'int64', ['count']],
      ['small', 'int32', ['small']],
      ['flag', 'bool', ['flag']],
      ['country', 'string', ['country']],
    ]);
    expect(meta.outputs).toEqual({ probabilities: 'probabilities' });
    await startService(config, cleanups);

    const bad = new Map<number, Partial<Record<keyof TypedEvent, unknown>>>([
      [3, { count: 2.5 }],
      [7, { count: 'seven' }],
      [11, { country: 'xx' }],
      [13, { flag: 'yes' }],
      [17, { country: 5 }],
      [19, { a: undefined }],
      [23, { small: 2 ** 40 }],
    ]);
    const reasons = new Map([
      [3, 'non-integer-feature'],
      [7, 'non-numeric-feature'],
      [11, 'unknown-category'],
      [13, 'non-boolean-feature'],
      [17, 'non-string-feature'],
      [19, 'missing-feature'],
      [23, 'non-integer-feature'],
    ]);
    const N = 400;
    const sent = events(N, 5, bad);
    await sendEvents(config, sent);
    const got = await collect(config, [config.predictionsTopic, config.deadLetterTopic], (all) => all.length >= N);
    const scored = got.filter((g) => g.topic === config.predictionsTopic);
    const dead = got.filter((g) => g.topic === config.deadLetterTopic);

    expect(scored).toHaveLength(N - bad.size);
    expect(dead).toHaveLength(bad.size);
    let maxDiff = 0;
    for (const { message } of scored) {
      const i = index(message);
      const p = JSON.parse(message.value!.toString()) as { score: number; probabilities: number[] };
      const want = model.reference(sent[i]!.value as TypedEvent);
      // The score of a probabilities-only binary classifier is the probability of class 1.
      maxDiff = Math.max(maxDiff, Math.abs(p.score - want), Math.abs(p.probabilities[1]! - want));
      expect(p.score).toBe(p.probabilities[1]);
      expect(message.timestamp).toBe(String(T0 + i * 1000));
    }
    expect(maxDiff).toBeLessThan(1e-5);

    for (const { message } of dead) {
      const i = index(message);
      expect(header(message, HEADERS.dlqReason)).toBe(reasons.get(i));
      expect(message.timestamp).toBe(String(T0 + i * 1000));
      // Kafka Connect's dead-letter headers, beside the service's own.
      expect(header(message, CONNECT_HEADERS.topic)).toBe(config.featuresTopic);
      expect(header(message, CONNECT_HEADERS.partition)).toBe(header(message, HEADERS.sourcePartition));
      expect(header(message, CONNECT_HEADERS.offset)).toBe(header(message, HEADERS.sourceOffset));
      expect(header(message, CONNECT_HEADERS.exceptionClass)).toBe('kscore.PoisonEventError');
      expect(header(message, CONNECT_HEADERS.exceptionMessage)).toBe(`${reasons.get(i)}: ${header(message, HEADERS.dlqDetail)}`);
    }
    expect(header(dead.find((d) => index(d.message) === 11)!.message, HEADERS.dlqDetail)).toBe(
      'feature "country" is "xx", a value input "country" does not know (it knows de, fr, us)',
    );
  });

  it('scores Avro events with string fields, its score the probability of the configured positive class', async () => {
    const config = testConfig({ inputFormat: 'avro' });
    const meta = await registerTyped(config, { outputs: { positiveClass: '0' } });
    expect(meta.outputs).toEqual({ probabilities: 'probabilities', positiveClass: '0' });
    await startService(config, cleanups);
    const schema = {
      type: 'record',
      name: 'Customer',
      fields: [
        { name: 'a', type: 'float' },
        { name: 'b', type: 'float' },
        { name: 'ratio', type: 'double' },
        { name: 'count', type: 'long' },
        { name: 'small', type: 'int' },
        { name: 'flag', type: 'boolean' },
        { name: 'country', type: 'string' },
      ],
    };
    const N = 300;
    const sent = events(N, 9);
    await sendAvroEvents(config, schema, sent);
    const got = await collect(config, [config.predictionsTopic], (all) => all.length >= N);

    expect(got).toHaveLength(N);
    let maxDiff = 0;
    for (const { message } of got) {
      const i = index(message);
      const p = JSON.parse(message.value!.toString()) as { score: number; probabilities: number[] };
      maxDiff = Math.max(maxDiff, Math.abs(p.score - (1 - model.reference(sent[i]!.value as TypedEvent))));
      expect(p.score).toBe(p.probabilities[0]);
      expect(message.timestamp).toBe(String(T0 + i * 1000));
    }
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it('refuses a registration whose mapping or positive class does not fit the model, storing nothing', async () => {
    const config = testConfig();
    await expect(registerTyped(config, { inputs: { nums: ['a', 'b'] } })).rejects.toThrow(
      'the input mapping names "nums", which is not an input of the model (num, ratio, count, small, flag, country)',
    );
    await expect(registerTyped(config, { inputs: {} })).rejects.toThrow('input "num" takes 2 columns: name the fields that fill it');
    await expect(registerTyped(config, { outputs: { positiveClass: 'yes' } })).rejects.toThrow('the positive class "yes" is not a class of the model (its classes: 0, 1)');
    const redis = redisFor(config);
    const versions = await new RedisModelStore(redis, config.redisKeyPrefix).listVersions(config.modelName);
    await redis.quit();
    expect(versions).toEqual([]);
  });
});
