import { describe, expect, it } from 'vitest';
import { MAGIC_BYTE, readMessageIndexes, schemaIdOf, wireEncode, writeMessageIndexes, zigzagDecode, zigzagEncode } from '../../src/codec/wire.js';

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

  it('puts a prefix (the Protobuf message indexes) between the header and the body', () => {
    expect(wireEncode(1, Buffer.from([9]), Buffer.from([0]))).toEqual(Buffer.from([0, 0, 0, 0, 1, 0, 9]));
  });

  it('gives undefined for values not in the wire format', () => {
    expect(schemaIdOf(null)).toBeUndefined();
    expect(schemaIdOf(Buffer.from([0, 0, 0, 1]))).toBeUndefined(); // too short
    expect(schemaIdOf(Buffer.from([1, 0, 0, 0, 1]))).toBeUndefined(); // wrong magic byte
    expect(schemaIdOf(Buffer.from('{"a":1}'))).toBeUndefined();
  });
});

describe('zigzag', () => {
  it.each([
    [0, 0],
    [-1, 1],
    [1, 2],
    [-2, 3],
    [2, 4],
    [63, 126],
    [-64, 127],
    [2147483647, 4294967294],
    [-2147483648, 4294967295],
  ])('maps %i to %i and back', (n, z) => {
    expect(zigzagEncode(n)).toBe(z);
    expect(zigzagDecode(z)).toBe(n);
  });
});

describe('message indexes', () => {
  it.each([
    ['the first message, as the single byte 0', [0], [0]],
    ['the second top-level message (as Python confluent-kafka 2.16 writes it)', [1], [2, 2]],
    ['a nested message', [0, 1], [4, 0, 2]],
    ['an index over 63 (a two-byte varint)', [64], [2, 0x80, 0x01]],
  ])('%s', (_, indexes, bytes) => {
    expect([...writeMessageIndexes(indexes)]).toEqual(bytes);
    const body = Buffer.from([...bytes, 0x09, 0x01]);
    expect(readMessageIndexes(body)).toEqual({ indexes, next: bytes.length });
  });

  it('reads an explicit one-element [0] (count 1, index 0) like the short form', () => {
    expect(readMessageIndexes(Buffer.from([2, 0]))).toEqual({ indexes: [0], next: 2 });
  });

  it('reads at an offset', () => {
    expect(readMessageIndexes(Buffer.from([7, 7, 4, 2, 4]), 2)).toEqual({ indexes: [1, 2], next: 5 });
  });

  it.each([
    ['cut short', [4, 2]],
    ['empty', []],
    ['a negative count', [1]],
    ['a count beyond any schema', [0x7e]],
    ['a negative index', [2, 1]],
    ['a varint longer than 5 bytes', [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
  ])('refuses indexes that are %s', (_, bytes) => {
    expect(() => readMessageIndexes(Buffer.from(bytes))).toThrow(RangeError);
  });
});
