import { describe, expect, it } from 'vitest';
import { decodeJson, jsonDecoder } from '../../src/codec/json.js';
import { AutoDecoder, RegistryDecoder } from '../../src/codec/registry-decoder.js';
import type { EventDecoder } from '../../src/codec/types.js';
import { schemaIdOf } from '../../src/codec/wire.js';
import { PoisonEventError } from '../../src/errors.js';
import type { OutgoingRecord, Producer } from '../../src/kafka/index.js';
import {
  BAD_KINDS,
  LoadGenerator,
  UNKNOWN_SCHEMA_ID,
  syntheticFeatures,
  type BadKind,
  type LoadOptions,
} from '../../src/producer/load-generator.js';
import { compileRowWriter, explainBadFeature } from '../../src/scoring/vectorize.js';
import { FakeRegistry } from '../codec/fake-registry.js';

const FEATURES = ['f0', 'f1', 'f2', 'f3'];

function generator(options: Partial<LoadOptions>): LoadGenerator {
  return new LoadGenerator(null as never, null as never, { topic: 't', rate: 0, format: 'json', features: FEATURES, ...options });
}

/** How the service would classify a message value: 'ok' or the poison reason. */
function classify(decoder: EventDecoder, value: Buffer | null): string {
  try {
    const event = decoder.decode(value);
    const bad = compileRowWriter(FEATURES)(event, new Float32Array(FEATURES.length), 0);
    return bad < 0 ? 'ok' : explainBadFeature(event, FEATURES, bad).reason;
  } catch (err) {
    if (err instanceof PoisonEventError) return err.reason;
    throw err;
  }
}

const asBuffer = (v: Buffer | string): Buffer => (typeof v === 'string' ? Buffer.from(v) : v);

describe('syntheticFeatures', () => {
  it('is deterministic per (i, seed)', () => {
    expect(syntheticFeatures(17, FEATURES, 5)).toEqual(syntheticFeatures(17, FEATURES, 5));
  });

  it('gives one value in [-1, 1) per feature', () => {
    for (let i = 0; i < 2000; i++) {
      const e = syntheticFeatures(i, FEATURES, 1);
      expect(Object.keys(e)).toEqual(FEATURES);
      for (const v of Object.values(e)) {
        expect(v).toBeGreaterThanOrEqual(-1);
        expect(v).toBeLessThan(1);
      }
    }
  });

  it('differs by seed and by event index, and spreads over the range', () => {
    expect(syntheticFeatures(3, FEATURES, 1)).not.toEqual(syntheticFeatures(3, FEATURES, 2));
    expect(syntheticFeatures(3, FEATURES, 1)).not.toEqual(syntheticFeatures(4, FEATURES, 1));
    const values = Array.from({ length: 1000 }, (_, i) => syntheticFeatures(i, ['x'], 9).x!);
    expect(Math.min(...values)).toBeLessThan(-0.9);
    expect(Math.max(...values)).toBeGreaterThan(0.9);
    expect(new Set(values).size).toBe(1000);
  });
});

describe('LoadGenerator.badKindOf', () => {
  it('is undefined for every event when badEvery is 0 or unset', () => {
    for (const g of [generator({ badEvery: 0 }), generator({})]) {
      for (let i = 0; i < 50; i++) expect(g.badKindOf(i)).toBeUndefined();
    }
  });

  it('makes every badEvery-th event bad, cycling through every kind for avro', () => {
    const g = generator({ format: 'avro', badEvery: 3 });
    const kinds = Array.from({ length: 30 }, (_, i) => g.badKindOf(i));
    expect(kinds.filter((k) => k !== undefined)).toHaveLength(10);
    expect(kinds.slice(0, 3)).toEqual([undefined, undefined, 'decode-error']);
    const sequence = kinds.filter((k): k is BadKind => k !== undefined);
    expect(sequence).toEqual([...BAD_KINDS, ...BAD_KINDS]);
  });

  it('cycles through every kind but unknown-schema for json', () => {
    const g = generator({ format: 'json', badEvery: 1 });
    const sequence = Array.from({ length: 8 }, (_, i) => g.badKindOf(i));
    const jsonKinds = BAD_KINDS.filter((k) => k !== 'unknown-schema');
    expect(jsonKinds).toHaveLength(4);
    expect(sequence).toEqual([...jsonKinds, ...jsonKinds]);
  });
});

describe('LoadGenerator.message (json)', () => {
  it('writes good events as the synthetic features, keyed by prefix and index', () => {
    const g = generator({ seed: 7, keyPrefix: 'user-' });
    const m = g.message(12);
    expect(m.key).toBe('user-12');
    expect(decodeJson(asBuffer(m.value))).toEqual(syntheticFeatures(12, FEATURES, 7));
  });

  it('writes each kind of bad event so that the service classifies it as that kind', () => {
    const g = generator({ badEvery: 2 });
    const seen: string[] = [];
    for (let i = 0; i < 16; i++) {
      const m = g.message(i);
      const got = classify(jsonDecoder, asBuffer(m.value));
      expect(got).toBe(g.badKindOf(i) ?? 'ok');
      seen.push(got);
    }
    expect(new Set(seen)).toEqual(new Set(['ok', 'decode-error', 'missing-feature', 'non-numeric-feature', 'non-finite-feature']));
  });

  it('breaks the first feature for value-level bad kinds and leaves the others', () => {
    const g = generator({ badEvery: 1, seed: 3 });
    const good = syntheticFeatures(1, FEATURES, 3);
    const { f0: _missing, ...rest } = good;
    expect(decodeJson(asBuffer(g.message(1).value))).toEqual(rest); // missing-feature
    expect(decodeJson(asBuffer(g.message(2).value))).toEqual({ ...syntheticFeatures(2, FEATURES, 3), f0: 'twelve' });
    expect(decodeJson(asBuffer(g.message(3).value))).toEqual({ ...syntheticFeatures(3, FEATURES, 3), f0: Infinity });
  });
});

describe('LoadGenerator (avro, with a fake producer and registry)', () => {
  it('registers the event schema and sends each kind of bad event as the service would classify it', async () => {
    const registry = new FakeRegistry();
    for (let i = 0; i < 4; i++) registry.add('"string"'); // the event schema gets id 5
    const sent: OutgoingRecord[] = [];
    const producer = {
      send: (records: readonly OutgoingRecord[]) => {
        sent.push(...records);
        return Promise.resolve();
      },
    } as unknown as Producer;
    const g = new LoadGenerator(producer, registry, { topic: 't', rate: 0, format: 'avro', features: FEATURES, badEvery: 2, count: 20 });

    expect(await g.run()).toMatchObject({ sent: 20 });
    expect(sent).toHaveLength(20);
    expect(sent.every((r) => r.topic === 't' && typeof r.key === 'string')).toBe(true);
    const decoder = new AutoDecoder(new RegistryDecoder(registry), jsonDecoder);
    const values = sent.map((m) => asBuffer(m.value));
    await decoder.prepare(values);
    for (let i = 0; i < 20; i++) {
      expect(classify(decoder, values[i]!)).toBe(g.badKindOf(i) ?? 'ok');
    }
    expect(schemaIdOf(values[0]!)).toBe(5);
    expect(schemaIdOf(values[9]!)).toBe(UNKNOWN_SCHEMA_ID); // the 5th bad event is unknown-schema
    expect(registry.registered.map((r) => r.subject)).toEqual(['t-value']);
  });

  it('registers the event schema under the subject of the naming strategy', async () => {
    const producer = { send: () => Promise.resolve() } as unknown as Producer;
    for (const [strategy, subject] of [['record', 'kscore.demo.FeatureEvent'], ['topic-record', 't-kscore.demo.FeatureEvent']] as const) {
      const registry = new FakeRegistry();
      await new LoadGenerator(producer, registry, { topic: 't', rate: 0, format: 'avro', subjectNameStrategy: strategy, features: FEATURES, count: 1 }).run();
      expect(registry.registered.map((r) => r.subject)).toEqual([subject]);
    }
  });
});
