import { describe, expect, it } from 'vitest';
import { eventShape } from '../../src/codec/fields.js';
import { checkContract } from '../../src/registry/contract.js';
import { TOP_LEVEL, featureLocation } from '../../src/scoring/feature-paths.js';
import type { InputSpec } from '../../src/scoring/types.js';

const schema = (fields: object[]) => eventShape({ type: 'AVRO', schema: JSON.stringify({ type: 'record', name: 'E', fields }), references: [] }, []);
const input = (name: string, type: InputSpec['type'], fields: string[]): InputSpec => ({ name, type, shape: ['N', fields.length], fields });

describe('schema contracts', () => {
  const typed = [input('num', 'float32', ['a', 'b']), input('count', 'int64', ['count']), input('flag', 'bool', ['flag']), input('country', 'string', ['country'])];

  it('passes a schema whose fields the inputs can take (integers fill float inputs, enums string inputs) and notes optional fields', () => {
    const event = schema([
      { name: 'a', type: 'double' },
      { name: 'b', type: 'int' },
      { name: 'count', type: 'long' },
      { name: 'flag', type: ['null', 'boolean'], default: null },
      { name: 'country', type: { type: 'enum', name: 'C', symbols: ['de'] } },
      { name: 'extra', type: 'string' },
    ]);
    expect(checkContract({ features: [], inputs: typed }, event, TOP_LEVEL)).toEqual({
      mismatches: [],
      notes: ['field "flag" (input "flag", bool) may be absent or null: such events are dead-lettered'],
    });
  });

  it('names each missing field and each field of a type its input cannot take', () => {
    const event = schema([
      { name: 'a', type: 'string' },
      { name: 'count', type: 'double' },
      { name: 'flag', type: 'boolean' },
    ]);
    expect(checkContract({ features: [], inputs: typed }, event, TOP_LEVEL).mismatches).toEqual([
      'field "a" (input "num", float32) is a string in the schema; the input needs a number',
      'field "b" (input "num", float32) is not in the schema',
      'field "count" (input "count", int64) is a number in the schema; the input needs an integer',
      'field "country" (input "country", string) is not in the schema',
    ]);
  });

  it('checks versions without typed inputs as one float32 input, at the paths the service reads', () => {
    const event = schema([{ name: 'payload', type: { type: 'record', name: 'P', fields: [{ name: 'f0', type: 'double' }, { name: 'f1', type: 'string' }] } }]);
    const location = featureLocation('payload', [{ feature: 'f2', path: ['top'] }]);
    expect(checkContract({ features: ['f0', 'f1', 'f2'] }, event, location).mismatches).toEqual([
      'field "payload.f1" (input "input", float32) is a string in the schema; the input needs a number',
      'field "top" (input "input", float32) is not in the schema',
    ]);
  });
});
