import { describe, expect, it } from 'vitest';
import { NativeHeaders, headersOf, toRecords } from '../../../src/kafka/librdkafka/records.js';

describe('librdkafka records', () => {
  it('outgoing headers: one single-key object per value, none when empty', () => {
    const h = new NativeHeaders();
    expect(h.of(undefined)).toBeUndefined();
    expect(h.of({ a: undefined })).toBeUndefined();
    expect(h.of({ a: 'x', b: [] })).toEqual([{ a: 'x' }]);
    expect(h.of({ a: ['x', Buffer.from('y')], b: 'z' })).toEqual([{ a: 'x' }, { a: Buffer.from('y') }, { b: 'z' }]);
  });

  it('outgoing headers: the object of a Buffer value is given again while the same Buffer comes under its key', () => {
    const h = new NativeHeaders();
    const model = Buffer.from('m');
    const first = h.of({ model, offset: '1' })!;
    const second = h.of({ model, offset: '2' })!;
    expect(second[0]).toBe(first[0]);
    expect(second[1]).toEqual({ offset: '2' });
    // A different Buffer (even with the same bytes) or another key gets an object of its own.
    const other = h.of({ model: Buffer.from('m') })!;
    expect(other[0]).not.toBe(first[0]);
    expect(other[0]).toEqual({ model: Buffer.from('m') });
    expect(h.of({ version: model })![0]).toEqual({ version: model });
  });

  it('outgoing headers: remembers a bounded number of keys, and stays right beyond them', () => {
    const h = new NativeHeaders();
    const value = Buffer.from('v');
    for (let i = 0; i < 200; i++) expect(h.of({ [`k${i}`]: value })).toEqual([{ [`k${i}`]: value }]);
    expect(h.of({ k199: value })).toEqual([{ k199: value }]);
  });

  it('incoming: offsets and timestamps as strings, header lists as one object with repeats as arrays', () => {
    const [r] = toRecords([{ topic: 't', partition: 0, offset: 7, timestamp: 5, key: 'k', value: Buffer.from('v'), size: 1, headers: [{ a: Buffer.from('1') }, { a: Buffer.from('2') }, { b: Buffer.from('3') }] }]);
    expect(r).toEqual({ key: Buffer.from('k'), value: Buffer.from('v'), offset: '7', timestamp: '5', headers: { a: [Buffer.from('1'), Buffer.from('2')], b: Buffer.from('3') } });
    expect(headersOf([])).toEqual({});
  });
});
