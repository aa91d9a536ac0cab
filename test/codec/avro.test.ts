import avro from 'avsc';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AutoDecoder,
  AvroDecoder,
  AvroPredictionEncoder,
  MAGIC_BYTE,
  PREDICTION_SCHEMA,
  schemaIdOf,
  wireEncode,
} from '../../src/codec/avro.js';
import { jsonDecoder } from '../../src/codec/json.js';
import type { AvroType, SchemaSource } from '../../src/codec/types.js';
import { PoisonEventError, TransientError } from '../../src/errors.js';

const EVENT_SCHEMA = {
  type: 'record',
  name: 'FeatureEvent',
  fields: [
    { name: 'a', type: 'double' },
    { name: 'b', type: 'double' },
  ],
};
const EVENT_TYPE = avro.Type.forSchema(EVENT_SCHEMA as avro.Schema);

/** An in-memory schema registry over real avsc types; `failWith` makes getSchema throw. */
class FakeRegistry implements SchemaSource {
  readonly schemas = new Map<number, object>();
  readonly fetched: number[] = [];
  readonly registered: { schema: object; subject: string }[] = [];
  failWith: Error | undefined;
  private nextId = 1;

  add(schema: object): number {
    const id = this.nextId++;
    this.schemas.set(id, schema);
    return id;
  }

  getSchema(id: number): Promise<AvroType> {
    this.fetched.push(id);
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    const schema = this.schemas.get(id);
    if (schema === undefined) return Promise.reject(Object.assign(new Error('not found'), { status: 404 }));
    return Promise.resolve(avro.Type.forSchema(schema as avro.Schema));
  }

  register(schema: object, subject: string): Promise<number> {
    this.registered.push({ schema, subject });
    return Promise.resolve(this.add(schema));
  }
}

function poisonOf(fn: () => unknown): PoisonEventError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PoisonEventError);
    return err as PoisonEventError;
  }
  throw new Error('expected a PoisonEventError');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('avsc', () => {
  it('resolves as a default import with Type.forSchema', () => {
    expect(typeof avro.Type.forSchema).toBe('function');
    expect(EVENT_TYPE.fromBuffer(EVENT_TYPE.toBuffer({ a: 1, b: 2 }))).toEqual({ a: 1, b: 2 });
  });
});

describe('wireEncode / schemaIdOf', () => {
  it('round-trips the schema id and keeps the body after a 5-byte header', () => {
    const body = Buffer.from([1, 2, 3]);
    for (const id of [0, 1, 258, 0x7ffffff0, 0xffffffff]) {
      const wire = wireEncode(id, body);
      expect(wire[0]).toBe(MAGIC_BYTE);
      expect(wire.length).toBe(5 + body.length);
      expect(schemaIdOf(wire)).toBe(id);
      expect(wire.subarray(5)).toEqual(body);
    }
    expect(wireEncode(258, Buffer.alloc(0))).toEqual(Buffer.from([0, 0, 0, 1, 2]));
  });

  it('gives undefined for values not in the wire format', () => {
    expect(schemaIdOf(null)).toBeUndefined();
    expect(schemaIdOf(Buffer.from([0, 0, 0, 1]))).toBeUndefined(); // too short
    expect(schemaIdOf(Buffer.from([1, 0, 0, 0, 1]))).toBeUndefined(); // wrong magic byte
    expect(schemaIdOf(Buffer.from('{"a":1}'))).toBeUndefined();
  });
});

describe('AvroDecoder', () => {
  it('fetches each unknown schema id once, however many events carry it', async () => {
    const registry = new FakeRegistry();
    const id1 = registry.add(EVENT_SCHEMA);
    const id2 = registry.add(EVENT_SCHEMA);
    const decoder = new AvroDecoder(registry);
    const e = (id: number) => wireEncode(id, EVENT_TYPE.toBuffer({ a: 1, b: 2 }));

    await decoder.prepare([e(id1), e(id2), e(id1), null, Buffer.from('{}'), e(id1)]);
    expect([...registry.fetched].sort()).toEqual([id1, id2]);
    await decoder.prepare([e(id1), e(id2)]);
    expect(registry.fetched).toHaveLength(2); // cached
  });

  it('decodes what it prepared (round trip)', async () => {
    const registry = new FakeRegistry();
    const id = registry.add(EVENT_SCHEMA);
    const decoder = new AvroDecoder(registry);
    const value = wireEncode(id, EVENT_TYPE.toBuffer({ a: 0.5, b: -3 }));
    await decoder.prepare([value]);
    expect(decoder.decode(value)).toEqual({ a: 0.5, b: -3 });
  });

  it('makes events of a schema id the registry does not know (404) unknown-schema poison', async () => {
    const registry = new FakeRegistry();
    const decoder = new AvroDecoder(registry);
    const value = wireEncode(42, EVENT_TYPE.toBuffer({ a: 1, b: 2 }));
    await expect(decoder.prepare([value])).resolves.toBeUndefined();
    const err = poisonOf(() => decoder.decode(value));
    expect(err.reason).toBe('unknown-schema');
    expect(err.message).toContain('42');
  });

  it('does not ask about an unknown id again for a while, then does', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const registry = new FakeRegistry();
    const decoder = new AvroDecoder(registry);
    const value = wireEncode(42, EVENT_TYPE.toBuffer({ a: 1, b: 2 }));
    await decoder.prepare([value]);
    await decoder.prepare([value]);
    expect(registry.fetched).toEqual([42]);
    vi.advanceTimersByTime(60_000);
    await decoder.prepare([value]);
    expect(registry.fetched).toEqual([42, 42]);
  });

  it('rejects prepare with a retryable TransientError when the registry cannot answer', async () => {
    const registry = new FakeRegistry();
    const id = registry.add(EVENT_SCHEMA);
    registry.failWith = Object.assign(new Error('connect ECONNREFUSED'), { status: 503 });
    const decoder = new AvroDecoder(registry);
    const value = wireEncode(id, EVENT_TYPE.toBuffer({ a: 1, b: 2 }));

    const err: unknown = await decoder.prepare([value]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).canRetry).toBe(true);
    expect((err as TransientError).message).toContain('ECONNREFUSED');

    // Nothing was cached: once the registry is back, the next prepare fetches and decodes.
    registry.failWith = undefined;
    await decoder.prepare([value]);
    expect(registry.fetched).toEqual([id, id]);
    expect(decoder.decode(value)).toEqual({ a: 1, b: 2 });
  });

  it.each([
    ['null', null],
    ['JSON', Buffer.from('{"a":1,"b":2}')],
    ['a short header', Buffer.from([0, 0, 1])],
  ])('makes a value with a bad wire header (%s) a decode error', (_, value) => {
    const decoder = new AvroDecoder(new FakeRegistry());
    const err = poisonOf(() => decoder.decode(value));
    expect(err.reason).toBe('decode-error');
  });

  it.each([
    ['truncated', Buffer.from([1, 2, 3])],
    ['with trailing bytes', Buffer.concat([EVENT_TYPE.toBuffer({ a: 1, b: 2 }), Buffer.from([7])])],
  ])('makes a body that does not decode (%s) a decode error', async (_, body) => {
    const registry = new FakeRegistry();
    const id = registry.add(EVENT_SCHEMA);
    const decoder = new AvroDecoder(registry);
    const value = wireEncode(id, body);
    await decoder.prepare([value]);
    const err = poisonOf(() => decoder.decode(value));
    expect(err.reason).toBe('decode-error');
    expect(err.message).toContain(`schema ${id}`);
  });
});

describe('AutoDecoder', () => {
  it('reads Avro when the first byte is the magic byte and JSON otherwise', async () => {
    const registry = new FakeRegistry();
    const id = registry.add(EVENT_SCHEMA);
    const auto = new AutoDecoder(new AvroDecoder(registry), jsonDecoder);
    const avroValue = wireEncode(id, EVENT_TYPE.toBuffer({ a: 1, b: 2 }));
    const jsonValue = Buffer.from('{"a":3,"b":4}');

    await auto.prepare([avroValue, jsonValue, null]);
    expect(registry.fetched).toEqual([id]);
    expect(auto.decode(avroValue)).toEqual({ a: 1, b: 2 });
    expect(auto.decode(jsonValue)).toEqual({ a: 3, b: 4 });
    expect(poisonOf(() => auto.decode(null)).message).toBe('event has no value'); // the JSON decoder's
    expect(poisonOf(() => auto.decode(Buffer.from([0, 1]))).message).toMatch(/wire format/); // the Avro decoder's
  });
});

describe('AvroPredictionEncoder', () => {
  it('registers the prediction schema and writes magic byte + id + a body that decodes back', async () => {
    const registry = new FakeRegistry();
    registry.add(EVENT_SCHEMA); // so the prediction schema does not get id 1 by chance
    const encoder = await AvroPredictionEncoder.create(registry, 'predictions-value');
    expect(encoder.format).toBe('avro');
    expect(registry.registered).toEqual([{ schema: PREDICTION_SCHEMA, subject: 'predictions-value' }]);

    const p = { model: 'm', version: '7', score: 0.25, label: '1', probabilities: [0.75, 0.25] };
    const wire = encoder.encode(p);
    expect(wire[0]).toBe(MAGIC_BYTE);
    expect(schemaIdOf(wire)).toBe(2);
    expect(avro.Type.forSchema(PREDICTION_SCHEMA as unknown as avro.Schema).fromBuffer(wire.subarray(5))).toEqual(p);

    // And through the service's own decoder.
    const decoder = new AvroDecoder(registry);
    await decoder.prepare([wire]);
    expect(decoder.decode(wire)).toEqual(p);
  });

  it('writes nulls for the outputs a model does not have', async () => {
    const registry = new FakeRegistry();
    const encoder = await AvroPredictionEncoder.create(registry, 'p-value');
    const p = { model: 'm', version: '1', score: null, label: null, probabilities: null };
    const wire = encoder.encode(p);
    expect(avro.Type.forSchema(PREDICTION_SCHEMA as unknown as avro.Schema).fromBuffer(wire.subarray(5))).toEqual(p);
  });
});
