import { describe, expect, it } from 'vitest';
import { allocTypedRows, compileTypedWriter, copyTypedRows, explainTypedField } from '../../src/scoring/typed-rows.js';
import { featureLocation } from '../../src/scoring/feature-paths.js';
import type { InputSpec, ModelSpec, TypedRows } from '../../src/scoring/types.js';
import { rowFormatFor } from '../../src/scoring/vectorize.js';

const INPUTS: InputSpec[] = [
  { name: 'num', type: 'float32', shape: ['N', 2], fields: ['a', 'b'] },
  { name: 'ratio', type: 'float64', shape: ['N', 1], fields: ['ratio'] },
  { name: 'count', type: 'int64', shape: ['N', 1], fields: ['count'] },
  { name: 'small', type: 'int32', shape: ['N'], fields: ['small'] },
  { name: 'flag', type: 'bool', shape: ['N', 1], fields: ['flag'] },
  { name: 'country', type: 'string', shape: ['N', 1], fields: ['country'] },
];
const CATEGORIES = { country: ['de', 'fr', 'us'] };
const GOOD = { a: 0.5, b: -1, ratio: 0.1, count: 7, small: -3, flag: true, country: 'fr' };

function columns(rows: TypedRows) {
  const [num, ratio, count, small, flag, country] = rows.columns as [Float32Array, Float64Array, BigInt64Array, Int32Array, Uint8Array, string[]];
  return { num, ratio, count, small, flag, country };
}

describe('typed rows', () => {
  it('writes each field as its input type, row after row', () => {
    const write = compileTypedWriter(INPUTS, CATEGORIES);
    const rows = allocTypedRows(INPUTS, 3);
    expect(write(GOOD, rows, 0)).toBe(-1);
    expect(write({ ...GOOD, a: 2, b: 3, ratio: 1 / 3, count: -2, small: 2147483647, flag: false, country: 'us' }, rows, 2)).toBe(-1);
    const c = columns(rows);
    expect(Array.from(c.num)).toEqual([0.5, -1, 0, 0, 2, 3]);
    expect(Array.from(c.ratio)).toEqual([0.1, 0, 1 / 3]);
    expect(Array.from(c.count)).toEqual([7n, 0n, -2n]);
    expect(Array.from(c.small)).toEqual([-3, 0, 2147483647]);
    expect(Array.from(c.flag)).toEqual([1, 0, 0]);
    expect(c.country).toEqual(['fr', '', 'us']);
  });

  it('writes every safe integer into an int64 column exactly, without BigInt on the way', () => {
    const inputs: InputSpec[] = [{ name: 'n', type: 'int64', shape: ['N', 1], fields: ['n'] }];
    const values = [0, 1, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, -(2 ** 32), 2 ** 40 + 3, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    const write = compileTypedWriter(inputs);
    const rows = allocTypedRows(inputs, values.length);
    values.forEach((n, i) => expect(write({ n }, rows, i)).toBe(-1));
    expect(Array.from(rows.columns[0] as BigInt64Array)).toEqual(values.map((n) => BigInt(n)));
  });

  it.each([
    ['missing', { count: undefined }, 3, 'missing-feature', 'feature "count" is missing'],
    ['null', { country: null }, 6, 'missing-feature', 'feature "country" is missing'],
    ['a string where a float is declared', { a: '0.5' }, 0, 'non-numeric-feature', 'feature "a" is string, not a number'],
    ['NaN in a double', { ratio: Number.NaN }, 2, 'non-finite-feature', 'feature "ratio" is NaN, not a finite number'],
    ['a string where int64 is declared', { count: '7' }, 3, 'non-numeric-feature', 'feature "count" is string, not a number (the model takes int64)'],
    ['a fraction where int64 is declared', { count: 2.5 }, 3, 'non-integer-feature', 'feature "count" is 2.5, not an int64'],
    ['an unsafe integer for int64', { count: 2 ** 60 }, 3, 'non-integer-feature', 'feature "count" is 1152921504606847000, not an integer within ±2^53 (a larger one is not exact in a number)'],
    ['a number beyond int32', { small: 2 ** 31 }, 4, 'non-integer-feature', 'feature "small" is 2147483648, not an int32'],
    ['a number where bool is declared', { flag: 1 }, 5, 'non-boolean-feature', 'feature "flag" is number, not a boolean'],
    ['a number where a string is declared', { country: 3 }, 6, 'non-string-feature', 'feature "country" is number, not a string'],
    ['a category the encoder does not know', { country: 'it' }, 6, 'unknown-category', 'feature "country" is "it", a value input "country" does not know (it knows de, fr, us)'],
  ])('refuses %s, naming the field and why', (_, change, index, reason, message) => {
    const event = { ...GOOD, ...change };
    const at = compileTypedWriter(INPUTS, CATEGORIES)(event, allocTypedRows(INPUTS, 1), 0);
    expect(at).toBe(index);
    const err = explainTypedField(event, INPUTS, at, CATEGORIES);
    expect([err.reason, err.message]).toEqual([reason, message]);
  });

  it('refuses what is not an object of fields', () => {
    for (const event of [null, 3, 'x']) {
      expect(compileTypedWriter(INPUTS)(event, allocTypedRows(INPUTS, 1), 0)).toBe(0);
      expect(explainTypedField(event, INPUTS, 0).reason).toBe('decode-error');
    }
  });

  it('copies rows between buffers at a row offset, strings included', () => {
    const write = compileTypedWriter(INPUTS);
    const src = allocTypedRows(INPUTS, 2);
    write(GOOD, src, 0);
    write({ ...GOOD, a: 9, count: 9, country: 'de' }, src, 1);
    const dst = allocTypedRows(INPUTS, 4);
    copyTypedRows(INPUTS, src, 2, dst, 1);
    const c = columns(dst);
    expect(Array.from(c.num)).toEqual([0, 0, 0.5, -1, 9, -1, 0, 0]);
    expect(Array.from(c.count)).toEqual([0n, 7n, 9n, 0n]);
    expect(c.country).toEqual(['', 'fr', 'de', '']);
  });
});

describe('typed rows at a nested location', () => {
  const spec: ModelSpec = { features: ['a', 'b', 'ratio', 'count', 'small', 'flag', 'country'], inputName: 'num', inputShape: ['N', 2], inputs: INPUTS, outputs: { score: 'score' }, categories: CATEGORIES };

  it('reads the fields under KSCORE_FEATURES_FIELD and a feature path of its own like top-level ones', () => {
    const nested = rowFormatFor(spec, featureLocation('payload.features', [{ feature: 'country', path: ['meta', 'country'] }]));
    const flat = rowFormatFor(spec);
    const { country, ...rest } = GOOD;
    const a = nested.alloc(1);
    const b = flat.alloc(1);
    expect(nested.write({ payload: { features: rest }, meta: { country } }, a, 0)).toBe(-1);
    expect(flat.write(GOOD, b, 0)).toBe(-1);
    expect((a as TypedRows).columns).toEqual((b as TypedRows).columns);
  });

  it('explains a bad nested field by its feature name', () => {
    const nested = rowFormatFor(spec, featureLocation('payload'));
    const event = { payload: { ...GOOD, count: 1.5 } };
    const index = nested.write(event, nested.alloc(1), 0);
    expect(spec.features[index]).toBe('count');
    expect(nested.explain(event, index).reason).toBe('non-integer-feature');
  });
});
