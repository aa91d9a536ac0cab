import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { describe, expect, it } from 'vitest';
import { compileProtobuf } from '../../src/codec/protobuf.js';
import type { NamedSchema } from '../../src/codec/references.js';
import type { SchemaText } from '../../src/codec/types.js';

const proto = (schema: string, references: SchemaText['references'] = []): SchemaText => ({ type: 'PROTOBUF', schema, references });

/**
 * What Python's confluent-kafka 2.16.1 ProtobufSerializer registered (a base64 FileDescriptorProto)
 * and wrote for this file, with `Event` the second message (indexes [1]):
 *   syntax = "proto3"; package probe.v1; import "google/protobuf/timestamp.proto";
 *   message Other { string x = 1; }
 *   message Event { string id = 1; google.protobuf.Timestamp at = 2; Features features = 3;
 *     message Features { double f0 = 1; double f1 = 2; optional double f2 = 3; int64 n = 4; Kind kind = 5; }
 *     enum Kind { A = 0; B = 1; } }
 * Event(id="a", at.seconds=100, features=Features(f0=1.5, f1=-2, n=5, kind=B)).
 */
const PYTHON_SCHEMA =
  'ChFwcm9iZV9ldmVudC5wcm90bxIIcHJvYmUudjEaH2dvb2dsZS9wcm90b2J1Zi90aW1lc3RhbXAucHJvdG8iEgoFT3RoZXISCQoBeBgBIAEoCSLoAQoFRXZlbnQSCgoCaWQYASABKAkSJgoCYXQYAiABKAsyGi5nb29nbGUucHJvdG9idWYuVGltZXN0YW1wEioKCGZlYXR1cmVzGAMgASgLMhgucHJvYmUudjEuRXZlbnQuRmVhdHVyZXMaaQoIRmVhdHVyZXMSCgoCZjAYASABKAESCgoCZjEYAiABKAESDwoCZjIYAyABKAFIAIgBARIJCgFuGAQgASgDEiIKBGtpbmQYBSABKA4yFC5wcm9iZS52MS5FdmVudC5LaW5kQgUKA19mMiIUCgRLaW5kEgUKAUEQABIFCgFCEAFiBnByb3RvMw==';
const PYTHON_VALUE = Buffer.from('000000000f02020a0161120208641a1609000000000000f83f1100000000000000c020052801', 'hex');

describe('compileProtobuf', () => {
  it('reads what Python confluent-kafka registers and writes: a base64 descriptor, a well-known import, message indexes [1]', () => {
    const schema = compileProtobuf(proto(PYTHON_SCHEMA), []);
    expect(schema.decode(PYTHON_VALUE.subarray(5))).toEqual({
      id: 'a',
      at: { seconds: 100, nanos: 0 },
      // f2 is `optional` and was not set: absent, not 0. int64 as a number, the enum as its number.
      features: { f0: 1.5, f1: -2, n: 5, kind: 1 },
    });
  });

  it('reads .proto text, keeping field names as written, and proto3 zero values that are not on the wire', () => {
    const text = 'syntax = "proto3";\npackage acme;\nmessage Event { double feature_one = 1; double f2 = 2; repeated double xs = 3; map<string, double> m = 4; }\n';
    const schema = compileProtobuf(proto(text), []);
    const body = encode(text, 'acme.Event', { feature_one: 2.5, xs: [1, 2], m: { k: 3 } });
    expect(schema.decode(Buffer.concat([Buffer.from([0]), body]))).toEqual({ feature_one: 2.5, f2: 0, xs: [1, 2], m: { k: 3 } });
  });

  it('picks the message by its index path, nested ones included', () => {
    const text = 'syntax = "proto3";\nmessage A { double a = 1; message Inner { double i = 1; } message Deep { double d = 1; } }\nmessage B { double b = 1; }\n';
    const schema = compileProtobuf(proto(text), []);
    const body = (indexes: number[], type: string, value: object) => Buffer.concat([indexBytes(indexes), encode(text, type, value)]);
    expect(schema.decode(body([1], 'B', { b: 7 }))).toEqual({ b: 7 });
    expect(schema.decode(body([0, 1], 'A.Deep', { d: 8 }))).toEqual({ d: 8 });
    expect(() => schema.decode(body([2], 'B', { b: 1 }))).toThrow(/no message at index path \[2\]/);
  });

  it.each([
    ['text', (t: string) => t],
    ['a base64 descriptor', descriptorOf],
  ])('loads imports from the references (as %s) and well-known types from protobufjs', (_, form) => {
    const money = 'syntax = "proto3";\npackage acme.common;\nmessage Money { double amount = 1; }\n';
    const text = 'syntax = "proto3";\npackage acme;\nimport "acme/money.proto";\nimport "google/protobuf/wrappers.proto";\nmessage Order { acme.common.Money total = 1; google.protobuf.DoubleValue discount = 2; }\n';
    const deps: NamedSchema[] = [{ name: 'acme/money.proto', ...proto(form(money)) }];
    const schema = compileProtobuf(proto(form(text), [{ name: 'acme/money.proto', subject: 'money', version: 1 }]), deps);
    const root = protobuf.parse(money, { keepCase: true }).root;
    root.addJSON(protobuf.common.get('google/protobuf/wrappers.proto')!.nested!);
    protobuf.parse(text.replace(/import .*\n/g, ''), root, { keepCase: true });
    const body = Buffer.concat([Buffer.from([0]), root.lookupType('acme.Order').encode({ total: { amount: 9.5 }, discount: { value: 0.25 } }).finish()]);
    // A wrapper stays an object: the path to its number is `discount.value`.
    expect(schema.decode(body)).toEqual({ total: { amount: 9.5 }, discount: { value: 0.25 } });
  });

  it('encodes as the message named Prediction with its index, and reads it back', () => {
    const text = 'syntax = "proto3";\nmessage Other { string x = 1; }\nmessage Prediction { string model = 1; optional double score = 2; }\n';
    const schema = compileProtobuf(proto(text), []);
    const body = schema.encode({ model: 'm', score: 0.5 });
    expect([...body.subarray(0, 2)]).toEqual([2, 2]); // indexes [1]
    expect(schema.decode(body)).toEqual({ model: 'm', score: 0.5 });
  });

  it('refuses a schema without messages', () => {
    expect(() => compileProtobuf(proto('syntax = "proto3";\nenum K { A = 0; }\n'), [])).toThrow(/no message/);
  });
});

function encode(text: string, type: string, value: object): Buffer {
  const root = protobuf.parse(text, { keepCase: true }).root;
  return Buffer.from(root.lookupType(type).encode(value).finish());
}

function indexBytes(indexes: number[]): Buffer {
  return Buffer.from([indexes.length * 2, ...indexes.map((i) => i * 2)]);
}

/** A .proto file as Python's serializer registers it: its FileDescriptorProto in base64. */
function descriptorOf(text: string): string {
  const parsed = protobuf.parse(text, { keepCase: true });
  const imports = parsed.imports ?? [];
  // Resolve against stand-ins of the imports, then keep only this file's descriptor.
  const root = parsed.root;
  if (imports.includes('google/protobuf/wrappers.proto')) root.addJSON(protobuf.common.get('google/protobuf/wrappers.proto')!.nested!);
  if (imports.includes('acme/money.proto')) protobuf.parse('syntax = "proto3"; package acme.common; message Money { double amount = 1; }', root);
  const set = (root as unknown as { toDescriptor(syntax: string): { file: { package?: string; dependency?: string[] }[] } }).toDescriptor('proto3');
  const file = set.file.find((f) => f.package === parsed.package)!;
  file.dependency = imports;
  return Buffer.from(descriptor.FileDescriptorProto.encode(file as never).finish()).toString('base64');
}
