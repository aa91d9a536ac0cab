import { describe, expect, it } from 'vitest';
import { compileJsonSchema } from '../../src/codec/json-schema.js';
import type { SchemaText } from '../../src/codec/types.js';

const json = (schema: object | string): SchemaText => ({ type: 'JSON', schema: typeof schema === 'string' ? schema : JSON.stringify(schema), references: [] });
const EVENT = { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { a: { type: 'number' } }, required: ['a'] };

describe('compileJsonSchema', () => {
  it('without validation, parses the body whatever the schema says', () => {
    const schema = compileJsonSchema(json(EVENT), [], false);
    expect(schema.decode(Buffer.from('{"b":"x"}'))).toEqual({ b: 'x' });
  });

  it('with validation, refuses a value that does not match, saying where', () => {
    const schema = compileJsonSchema(json(EVENT), [], true);
    expect(schema.decode(Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    expect(() => schema.decode(Buffer.from('{"a":"1"}'))).toThrow(/does not match its JSON schema: \/a must be number/);
    expect(() => schema.decode(Buffer.from('{}'))).toThrow(/must have required property 'a'/);
  });

  it.each([
    ['2020-12', 'https://json-schema.org/draft/2020-12/schema'],
    ['2019-09', 'https://json-schema.org/draft/2019-09/schema'],
    ['draft 6', 'http://json-schema.org/draft-06/schema#'],
  ])('validates with the draft $schema names (%s)', (_, draft) => {
    const schema = compileJsonSchema(json({ ...EVENT, $schema: draft }), [], true);
    expect(() => schema.decode(Buffer.from('{}'))).toThrow(/required/);
  });

  it('resolves $ref to referenced schemas by their reference names', () => {
    const main = json({ type: 'object', properties: { money: { $ref: 'money.json' } } });
    const money = { name: 'money.json', ...json({ type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] }) };
    const schema = compileJsonSchema(main, [money], true);
    expect(schema.decode(Buffer.from('{"money":{"amount":2}}'))).toEqual({ money: { amount: 2 } });
    expect(() => schema.decode(Buffer.from('{"money":{}}'))).toThrow(/amount/);
  });

  it('ignores formats and unknown keywords rather than refusing the schema', () => {
    const schema = compileJsonSchema(json({ type: 'object', properties: { e: { type: 'string', format: 'email' } }, 'x-owner': 'team' }), [], true);
    expect(schema.decode(Buffer.from('{"e":"not an email"}'))).toEqual({ e: 'not an email' });
  });

  it.each([
    ['not JSON', '{"type":'],
    ['an invalid schema (validation on)', '{"type": "objectx"}'],
  ])('refuses a schema that is %s', (_, text) => {
    expect(() => compileJsonSchema(json(text), [], true)).toThrow();
  });

  it('encodes as JSON text, validated when validation is on', () => {
    expect(compileJsonSchema(json(EVENT), [], false).encode({ a: 1 }).toString()).toBe('{"a":1}');
    expect(() => compileJsonSchema(json(EVENT), [], true).encode({ a: 'x' })).toThrow(/must be number/);
  });
});
