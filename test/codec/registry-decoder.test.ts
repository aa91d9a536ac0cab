import avro from 'avsc';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RegistryRefusedError, SchemaNotFoundError } from '../../src/codec/errors.js';
import { classifyRegistryError } from '../../src/codec/registry-client.js';
import { AutoDecoder, RegistryDecoder } from '../../src/codec/registry-decoder.js';
import { jsonDecoder } from '../../src/codec/json.js';
import { wireEncode } from '../../src/codec/wire.js';
import { PoisonEventError, TransientError } from '../../src/errors.js';
import { FakeRegistry } from './fake-registry.js';

const EVENT_SCHEMA = {
  type: 'record',
  name: 'FeatureEvent',
  fields: [
    { name: 'a', type: 'double' },
    { name: 'b', type: 'double' },
  ],
};
const EVENT_TYPE = avro.Type.forSchema(EVENT_SCHEMA as avro.Schema);

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

describe('RegistryDecoder', () => {
  it('fetches each unknown schema id once, however many events carry it', async () => {
    const registry = new FakeRegistry();
    const id1 = registry.add(EVENT_SCHEMA);
    const id2 = registry.add(EVENT_SCHEMA);
    const decoder = new RegistryDecoder(registry);
    const e = (id: number) => wireEncode(id, EVENT_TYPE.toBuffer({ a: 1, b: 2 }));

    await decoder.prepare([e(id1), e(id2), e(id1), null, Buffer.from('{}'), e(id1)]);
    expect([...registry.fetched].sort()).toEqual([id1, id2]);
    await decoder.prepare([e(id1), e(id2)]);
    expect(registry.fetched).toHaveLength(2); // cached
  });

  it('decodes what it prepared (round trip)', async () => {
    const registry = new FakeRegistry();
    const id = registry.add(EVENT_SCHEMA);
    const decoder = new RegistryDecoder(registry);
    const value = wireEncode(id, EVENT_TYPE.toBuffer({ a: 0.5, b: -3 }));
    await decoder.prepare([value]);
    expect(decoder.decode(value)).toEqual({ a: 0.5, b: -3 });
  });

  it('makes events of a schema id the registry does not know (404) unknown-schema poison', async () => {
    const registry = new FakeRegistry();
    const decoder = new RegistryDecoder(registry);
    const value = wireEncode(42, EVENT_TYPE.toBuffer({ a: 1, b: 2 }));
    await expect(decoder.prepare([value])).resolves.toBeUndefined();
    const err = poisonOf(() => decoder.decode(value));
    expect(err.reason).toBe('unknown-schema');
    expect(err.message).toContain('42');
  });

  it('does not ask about an unknown id again for a while, then does', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const registry = new FakeRegistry();
    const decoder = new RegistryDecoder(registry);
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
    const decoder = new RegistryDecoder(registry);
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

  it('makes events of a schema it cannot read unsupported-schema poison, naming the schema type, and decodes the others', async () => {
    const registry = new FakeRegistry();
    const good = registry.add(EVENT_SCHEMA);
    const xml = registry.add('<schema/>', 'XML');
    const decoder = new RegistryDecoder(registry);
    const proto = wireEncode(xml, Buffer.from([0, 10, 3, 97, 98, 99]));
    const avroValue = wireEncode(good, EVENT_TYPE.toBuffer({ a: 1, b: 2 }));
    await decoder.prepare([proto, avroValue]);
    const err = poisonOf(() => decoder.decode(proto));
    expect(err.reason).toBe('unsupported-schema');
    expect(err.message).toContain('XML');
    expect(decoder.decode(avroValue)).toEqual({ a: 1, b: 2 });
  });

  it('rejects prepare with a fatal RegistryRefusedError when the registry refuses the credentials', async () => {
    const registry = new FakeRegistry();
    const id = registry.add(EVENT_SCHEMA);
    registry.failWith = Object.assign(new Error('Confluent_Schema_Registry - Error, status 401: Unauthorized'), { status: 401 });
    const err = await new RegistryDecoder(registry).prepare([wireEncode(id, EVENT_TYPE.toBuffer({ a: 1, b: 2 }))]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryRefusedError);
    expect((err as RegistryRefusedError).canRetry).toBe(false);
    expect((err as Error).message).toContain('KSCORE_SCHEMA_REGISTRY_PASSWORD');
  });

  it('remembers a bounded number of unknown ids: random ids do not grow memory', async () => {
    const registry = new FakeRegistry();
    const decoder = new RegistryDecoder(registry);
    const ids = Array.from({ length: 5000 }, (_, i) => 1000 + i);
    for (let i = 0; i < ids.length; i += 500) await decoder.prepare(ids.slice(i, i + 500).map((id) => wireEncode(id, Buffer.alloc(1))));
    expect(registry.fetched).toHaveLength(5000);
    // The newest are still known-unknown (not asked again); the oldest were forgotten (asked again).
    await decoder.prepare([wireEncode(ids[4999]!, Buffer.alloc(1)), wireEncode(ids[0]!, Buffer.alloc(1))]);
    expect(registry.fetched.slice(5000)).toEqual([ids[0]]);
    expect(poisonOf(() => decoder.decode(wireEncode(ids[4999]!, Buffer.alloc(1)))).reason).toBe('unknown-schema');
  });

  it.each([
    ['null', null],
    ['JSON', Buffer.from('{"a":1,"b":2}')],
    ['a short header', Buffer.from([0, 0, 1])],
  ])('makes a value with a bad wire header (%s) a decode error', (_, value) => {
    const decoder = new RegistryDecoder(new FakeRegistry());
    const err = poisonOf(() => decoder.decode(value));
    expect(err.reason).toBe('decode-error');
  });

  it.each([
    ['truncated', Buffer.from([1, 2, 3])],
    ['with trailing bytes', Buffer.concat([EVENT_TYPE.toBuffer({ a: 1, b: 2 }), Buffer.from([7])])],
  ])('makes a body that does not decode (%s) a decode error', async (_, body) => {
    const registry = new FakeRegistry();
    const id = registry.add(EVENT_SCHEMA);
    const decoder = new RegistryDecoder(registry);
    const value = wireEncode(id, body);
    await decoder.prepare([value]);
    const err = poisonOf(() => decoder.decode(value));
    expect(err.reason).toBe('decode-error');
    expect(err.message).toContain(`schema ${id}`);
  });
});

describe('RegistryDecoder: schema types and compiling', () => {
  it('reads Avro, Protobuf and JSON Schema events by the type the registry gives each id', async () => {
    const registry = new FakeRegistry();
    const avroId = registry.add(EVENT_SCHEMA);
    const protoId = registry.add('syntax = "proto3";\nmessage E { double a = 1; double b = 2; }\n', 'PROTOBUF');
    const jsonId = registry.add('{"type": "object"}', 'JSON');
    const decoder = new RegistryDecoder(registry);
    // Protobuf: message index [0] (one 0 byte), then a = 1.5 (field 1, fixed64) and b = 2 (field 2).
    const protoBody = Buffer.concat([Buffer.from([0, 0x09]), f64(1.5), Buffer.from([0x11]), f64(2)]);
    const values = [wireEncode(avroId, EVENT_TYPE.toBuffer({ a: 1, b: 2 })), wireEncode(protoId, protoBody), wireEncode(jsonId, Buffer.from('{"a":3,"b":4}'))];
    await decoder.prepare(values);
    expect(values.map((v) => decoder.decode(v))).toEqual([{ a: 1, b: 2 }, { a: 1.5, b: 2 }, { a: 3, b: 4 }]);
  });

  it('names the schema type when a body does not decode', async () => {
    const registry = new FakeRegistry();
    const id = registry.add('{"type": "object"}', 'JSON');
    const decoder = new RegistryDecoder(registry);
    const value = wireEncode(id, Buffer.from('{"a":'));
    await decoder.prepare([value]);
    const err = poisonOf(() => decoder.decode(value));
    expect(err.reason).toBe('decode-error');
    expect(err.message).toContain(`JSON schema ${id}`);
  });

  it.each([
    ['an Avro schema avsc refuses', '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nosuchtype"}]}', 'AVRO'],
    ['a .proto that does not parse', 'syntax = "proto3"; message {', 'PROTOBUF'],
    ['a .proto that imports what is nowhere', 'syntax = "proto3"; import "acme/money.proto"; message E { acme.Money m = 1; }', 'PROTOBUF'],
    ['JSON Schema text that is not JSON', '{"type": ', 'JSON'],
  ])('makes the events of %s unsupported-schema poison', async (_, schema, type) => {
    const registry = new FakeRegistry();
    const id = registry.add(schema, type);
    const decoder = new RegistryDecoder(registry);
    const value = wireEncode(id, Buffer.from([0, 1, 2]));
    await decoder.prepare([value]);
    const err = poisonOf(() => decoder.decode(value));
    expect(err.reason).toBe('unsupported-schema');
    expect(err.message).toContain(type);
  });

  it('makes a schema whose reference the registry does not have unsupported-schema poison', async () => {
    const registry = new FakeRegistry();
    const id = registry.add('syntax = "proto3"; import "other.proto"; message E { Other o = 1; }', 'PROTOBUF', { references: [{ name: 'other.proto', subject: 'gone', version: 1 }] });
    const decoder = new RegistryDecoder(registry);
    const value = wireEncode(id, Buffer.from([0]));
    await decoder.prepare([value]);
    expect(poisonOf(() => decoder.decode(value)).message).toMatch(/references "other.proto" \(subject "gone" version 1\)/);
  });

  it('keeps a bounded number of compiled schemas, the least recently used forgotten first', async () => {
    const registry = new FakeRegistry();
    const ids = Array.from({ length: 1100 }, () => registry.add(EVENT_SCHEMA));
    const decoder = new RegistryDecoder(registry);
    const e = (id: number) => wireEncode(id, EVENT_TYPE.toBuffer({ a: 1, b: 2 }));
    await decoder.prepare([e(ids[0]!)]);
    for (let i = 1; i < ids.length; i += 100) {
      await decoder.prepare([...ids.slice(i, i + 100).map(e), e(ids[0]!)]); // ids[0] stays in use
    }
    expect(registry.fetched).toHaveLength(1100);
    await decoder.prepare([e(ids[0]!), e(ids[1]!), e(ids[1099]!)]);
    expect(registry.fetched.slice(1100)).toEqual([ids[1]]); // forgotten, fetched again; the others kept
    expect(decoder.decode(e(ids[1]!))).toEqual({ a: 1, b: 2 });
  });
});

function f64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return b;
}

describe('AutoDecoder', () => {
  it('reads the wire format when the first byte is the magic byte and JSON otherwise', async () => {
    const registry = new FakeRegistry();
    const id = registry.add(EVENT_SCHEMA);
    const auto = new AutoDecoder(new RegistryDecoder(registry), jsonDecoder);
    const avroValue = wireEncode(id, EVENT_TYPE.toBuffer({ a: 1, b: 2 }));
    const jsonValue = Buffer.from('{"a":3,"b":4}');

    await auto.prepare([avroValue, jsonValue, null]);
    expect(registry.fetched).toEqual([id]);
    expect(auto.decode(avroValue)).toEqual({ a: 1, b: 2 });
    expect(auto.decode(jsonValue)).toEqual({ a: 3, b: 4 });
    expect(poisonOf(() => auto.decode(null)).message).toBe('event has no value'); // the JSON decoder's
    expect(poisonOf(() => auto.decode(Buffer.from([0, 1]))).message).toMatch(/wire format/); // the registry decoder's
  });
});

describe('classifyRegistryError', () => {
  const httpError = (status: number, message: string): Error => Object.assign(new Error(`Confluent_Schema_Registry - Error, status ${status}: ${message}`), { status });

  it('tells an unreachable registry (retry) from one that refuses the service (fatal) and an unknown id (poison)', () => {
    expect(classifyRegistryError(httpError(400, 'connect ECONNREFUSED 127.0.0.1:1'), 3)).toBeInstanceOf(TransientError);
    expect(classifyRegistryError(httpError(503, 'Service Unavailable'), 3)).toBeInstanceOf(TransientError);
    expect(classifyRegistryError(new Error('socket hang up'), 3)).toBeInstanceOf(TransientError);
    expect(classifyRegistryError(httpError(404, 'Schema 3 not found'), 3)).toBeInstanceOf(SchemaNotFoundError);
    expect(classifyRegistryError(httpError(401, 'Unauthorized'), 3)).toBeInstanceOf(RegistryRefusedError);
    expect(classifyRegistryError(httpError(403, 'Forbidden'), 3)).toBeInstanceOf(RegistryRefusedError);
    expect(classifyRegistryError(httpError(400, 'bad request'), 3)).toBeInstanceOf(RegistryRefusedError);
    const tls = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const refused = classifyRegistryError(tls, 3);
    expect(refused).toBeInstanceOf(RegistryRefusedError);
    expect(refused.message).toContain('KSCORE_SCHEMA_REGISTRY_CA_FILE');
  });
});
