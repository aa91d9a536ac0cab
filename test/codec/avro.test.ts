import { describe, expect, it } from 'vitest';
import { compileAvro } from '../../src/codec/avro.js';
import type { SchemaText } from '../../src/codec/types.js';

const avro = (schema: object | string): SchemaText => ({ type: 'AVRO', schema: typeof schema === 'string' ? schema : JSON.stringify(schema), references: [] });

describe('compileAvro', () => {
  it('round-trips a record', () => {
    const schema = compileAvro(avro({ type: 'record', name: 'E', fields: [{ name: 'a', type: 'double' }] }), []);
    expect(schema.decode(schema.encode({ a: 0.5 }))).toEqual({ a: 0.5 });
  });

  it('compiles referenced named types first, so the schema can use them by name', () => {
    const money = { name: 'acme.Money', ...avro({ type: 'record', name: 'Money', namespace: 'acme', fields: [{ name: 'amount', type: 'double' }] }) };
    const order = avro({ type: 'record', name: 'Order', namespace: 'acme', fields: [{ name: 'total', type: 'acme.Money' }] });
    const schema = compileAvro({ ...order, references: [{ name: 'acme.Money', subject: 'money', version: 1 }] }, [money]);
    expect(schema.decode(schema.encode({ total: { amount: 3 } }))).toEqual({ total: { amount: 3 } });
  });

  it('refuses trailing bytes and truncated bodies', () => {
    const schema = compileAvro(avro({ type: 'record', name: 'E', fields: [{ name: 'a', type: 'double' }] }), []);
    expect(() => schema.decode(Buffer.concat([schema.encode({ a: 1 }), Buffer.from([7])]))).toThrow();
    expect(() => schema.decode(Buffer.from([1, 2]))).toThrow();
  });
});
