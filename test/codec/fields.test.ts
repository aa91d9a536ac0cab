import { describe, expect, it } from 'vitest';
import { eventShape, shapeAt, type FieldShape } from '../../src/codec/fields.js';
import type { SchemaText } from '../../src/codec/types.js';

const avro = (schema: object): SchemaText => ({ type: 'AVRO', schema: JSON.stringify(schema), references: [] });
const json = (schema: object): SchemaText => ({ type: 'JSON', schema: JSON.stringify(schema), references: [] });
const proto = (schema: string): SchemaText => ({ type: 'PROTOBUF', schema, references: [] });

function kinds(shape: FieldShape, paths: string[]): Record<string, string> {
  return Object.fromEntries(paths.map((p) => {
    const s = shapeAt(shape, p.split('.'));
    return [p, s === undefined ? 'missing' : `${s.kind}${s.optional ? '?' : ''}`];
  }));
}

describe('event shapes from registered schemas', () => {
  it('reads Avro records as the codec decodes them: unions with null optional, enums as strings, nested records', () => {
    const shape = eventShape(
      avro({
        type: 'record',
        name: 'Features',
        fields: [
          { name: 'a', type: 'double' },
          { name: 'n', type: 'long' },
          { name: 'maybe', type: ['null', 'float'], default: null },
          { name: 'country', type: { type: 'enum', name: 'Country', symbols: ['de', 'fr'] } },
          { name: 'flag', type: 'boolean' },
          { name: 'tags', type: { type: 'array', items: 'string' } },
          { name: 'either', type: ['string', 'int'] },
          { name: 'inner', type: { type: 'record', name: 'Inner', fields: [{ name: 'x', type: 'int' }] } },
        ],
      }),
      [],
    );
    expect(kinds(shape, ['a', 'n', 'maybe', 'country', 'flag', 'tags', 'either', 'inner.x', 'inner.y', 'nope'])).toEqual({
      a: 'number',
      n: 'integer',
      maybe: 'number?',
      country: 'string',
      flag: 'boolean',
      tags: 'other',
      either: 'other',
      'inner.x': 'integer',
      'inner.y': 'missing',
      nope: 'missing',
    });
  });

  it('reads Protobuf messages: the first message, enums as numbers, presence as optional, nested messages', () => {
    const shape = eventShape(
      proto(`syntax = "proto3";
package t;
message Features {
  double a = 1;
  int64 n = 2;
  optional float maybe = 3;
  Country country = 4;
  bool flag = 5;
  string name = 6;
  repeated double list = 7;
  Inner inner = 8;
}
message Inner { int32 x = 1; }
enum Country { DE = 0; FR = 1; }`),
      [],
    );
    expect(kinds(shape, ['a', 'n', 'maybe', 'country', 'flag', 'name', 'list', 'inner.x', 'nope'])).toEqual({
      a: 'number',
      n: 'integer',
      maybe: 'number?',
      country: 'integer',
      flag: 'boolean',
      name: 'string',
      list: 'other',
      'inner.x': 'integer?',
      nope: 'missing',
    });
  });

  it('reads JSON Schema objects: required fields, nullable types, local $refs, enums; open objects say nothing', () => {
    const shape = eventShape(
      json({
        type: 'object',
        required: ['a', 'country', 'inner'],
        properties: {
          a: { type: 'number' },
          n: { type: ['integer', 'null'] },
          country: { enum: ['de', 'fr'] },
          inner: { $ref: '#/$defs/Inner' },
          free: { type: 'object' },
          any: {},
        },
        $defs: { Inner: { type: 'object', required: ['x'], properties: { x: { type: 'integer' } } } },
      }),
      [],
    );
    expect(kinds(shape, ['a', 'n', 'country', 'inner.x', 'free.whatever', 'any', 'nope'])).toEqual({
      a: 'number',
      n: 'integer?',
      country: 'string',
      'inner.x': 'integer',
      'free.whatever': 'unknown?',
      any: 'unknown?',
      nope: 'missing',
    });
  });
});
