import { describe, expect, it } from 'vitest';
import { PoisonEventError } from '../../src/errors.js';
import { featureLocation } from '../../src/scoring/feature-paths.js';
import { compileRowWriter, explainBadFeature } from '../../src/scoring/vectorize.js';

const FEATURES = ['a', 'b', 'c'];

describe('compileRowWriter', () => {
  it('writes the features in order at the offset and returns -1', () => {
    const write = compileRowWriter(FEATURES);
    const out = new Float32Array(8).fill(9);
    expect(write({ c: 3, b: 2, a: 1, extra: 'ignored' }, out, 3)).toBe(-1);
    expect(Array.from(out)).toEqual([9, 9, 9, 1, 2, 3, 9, 9]);
  });

  it('writes rows side by side at consecutive offsets', () => {
    const write = compileRowWriter(FEATURES);
    const out = new Float32Array(6);
    expect(write({ a: 1, b: 2, c: 3 }, out, 0)).toBe(-1);
    expect(write({ a: -0.5, b: 0, c: 1e6 }, out, 3)).toBe(-1);
    expect(Array.from(out)).toEqual([1, 2, 3, -0.5, 0, 1e6]);
  });

  it.each([
    ['missing', { a: 1, c: 3 }, 1],
    ['a string', { a: 1, b: '2', c: 3 }, 1],
    ['a boolean', { a: 1, b: 2, c: true }, 2],
    ['null', { a: null, b: 2, c: 3 }, 0],
    ['an object', { a: 1, b: { value: 2 }, c: 3 }, 1],
    ['an array', { a: 1, b: [2], c: 3 }, 1],
    ['a bigint', { a: 1n, b: 2, c: 3 }, 0],
    ['NaN', { a: 1, b: 2, c: Number.NaN }, 2],
    ['Infinity', { a: Number.POSITIVE_INFINITY, b: 2, c: 3 }, 0],
    ['-Infinity', { a: 1, b: Number.NEGATIVE_INFINITY, c: 3 }, 1],
  ])('returns the index of the first bad feature when one is %s', (_, event, index) => {
    expect(compileRowWriter(FEATURES)(event, new Float32Array(3), 0)).toBe(index);
  });

  it('reports the first of several bad features', () => {
    expect(compileRowWriter(FEATURES)({ a: 1, b: 'x', c: Number.NaN }, new Float32Array(3), 0)).toBe(1);
  });

  it.each([null, undefined, 42, 'a string', true])('returns 0 for the non-object event %s', (event) => {
    expect(compileRowWriter(FEATURES)(event, new Float32Array(3), 0)).toBe(0);
  });

  it('embeds awkward feature names safely', () => {
    const names = [
      'quote"d',
      "single'quoted",
      'back\\slash',
      'line\nbreak',
      'unicode é 温度 🙂',
      '\u2028separator',
      '__proto__',
      'constructor',
      '"]; throw 1; //',
      "'); globalThis.pwned = true; ('",
      '${globalThis.pwned = true}',
    ];
    const write = compileRowWriter(names);
    // JSON.parse makes "__proto__" an own data property, as events off the wire have it.
    const event: unknown = JSON.parse(JSON.stringify(Object.fromEntries(names.map((n, i) => [n, i + 0.5]))));
    const out = new Float32Array(names.length);
    expect(write(event, out, 0)).toBe(-1);
    expect(Array.from(out)).toEqual(names.map((_, i) => i + 0.5));
    expect((globalThis as { pwned?: unknown }).pwned).toBeUndefined();
  });

  it('does not take an inherited "__proto__" or "constructor" as a feature value', () => {
    const write = compileRowWriter(['x', '__proto__', 'constructor']);
    expect(write({ x: 1 }, new Float32Array(3), 0)).toBe(1);
    expect(write(JSON.parse('{"x": 1, "__proto__": 2}'), new Float32Array(3), 0)).toBe(2);
  });
});

describe('explainBadFeature', () => {
  function explain(event: unknown, index: number): PoisonEventError {
    const err = explainBadFeature(event, FEATURES, index);
    expect(err).toBeInstanceOf(PoisonEventError);
    expect(err.canRetry).toBe(false);
    return err;
  }

  it.each([
    ['missing', { a: 1 }, 1, 'missing-feature', 'feature "b" is missing'],
    ['null', { a: null }, 0, 'missing-feature', 'feature "a" is missing'],
    ['a string', { a: 1, b: 'two' }, 1, 'non-numeric-feature', 'feature "b" is string, not a number'],
    ['a boolean', { a: 1, b: 2, c: false }, 2, 'non-numeric-feature', 'feature "c" is boolean, not a number'],
    ['an object', { a: {} }, 0, 'non-numeric-feature', 'feature "a" is object, not a number'],
    ['NaN', { a: Number.NaN }, 0, 'non-finite-feature', 'feature "a" is NaN'],
    ['Infinity', { a: 1, b: Number.POSITIVE_INFINITY }, 1, 'non-finite-feature', 'feature "b" is Infinity'],
  ])('a feature that is %s', (_, event, index, reason, message) => {
    const err = explain(event, index);
    expect(err.reason).toBe(reason);
    expect(err.message).toBe(message);
  });

  it.each([null, 42, 'text', [1, 2, 3]])('an event that is not an object (%s) is a decode error', (event) => {
    const err = explain(event, 0);
    expect(err.reason).toBe('decode-error');
    expect(err.message).toBe('event is not an object of features');
  });

  it('agrees with the row writer on every bad case', () => {
    const write = compileRowWriter(FEATURES);
    const cases: [unknown, string][] = [
      [{ b: 2, c: 3 }, 'missing-feature'],
      [{ a: 1, b: 'x', c: 3 }, 'non-numeric-feature'],
      [{ a: 1, b: 2, c: Number.NaN }, 'non-finite-feature'],
      ['not an object', 'decode-error'],
    ];
    for (const [event, reason] of cases) {
      const index = write(event, new Float32Array(3), 0);
      expect(index).toBeGreaterThanOrEqual(0);
      expect(explainBadFeature(event, FEATURES, index).reason).toBe(reason);
    }
  });

  it('a missing feature named like an Object.prototype member is reported as missing', () => {
    const features = ['constructor', '__proto__'];
    const write = compileRowWriter(features);
    const event = { other: 1 };
    const index = write(event, new Float32Array(2), 0);
    expect(index).toBe(0);
    expect(explainBadFeature(event, features, index).reason).toBe('missing-feature');
  });
});

describe('compileRowWriter with nested features', () => {
  const nested = (features: string | undefined, paths: Record<string, string> = {}) =>
    featureLocation(features, Object.entries(paths).map(([feature, path]) => ({ feature, path: path.split('.') })));

  it('reads every feature under a dotted base path', () => {
    const location = nested('payload.features');
    const write = compileRowWriter(FEATURES, location);
    const out = new Float32Array(3);
    expect(write({ payload: { features: { a: 1, b: 2, c: 3 } } }, out, 0)).toBe(-1);
    expect(Array.from(out)).toEqual([1, 2, 3]);
  });

  it('reads features with paths of their own from the top level, array indexes included, the rest under the base', () => {
    const location = nested('f', { b: 'meta.score', c: 'history.2' });
    const write = compileRowWriter(FEATURES, location);
    const out = new Float32Array(3);
    expect(write({ f: { a: 1 }, meta: { score: 2 }, history: [0, 0, 3] }, out, 0)).toBe(-1);
    expect(Array.from(out)).toEqual([1, 2, 3]);
  });

  it('reads each object on the way once (one local per object)', () => {
    const source = compileRowWriter(['x', 'y', 'z'], nested('a.b', { z: 'a.c.z' })).toString();
    expect(source.match(/\["a"\]/g)).toHaveLength(1);
    expect(source.match(/\["b"\]/g)).toHaveLength(1);
  });

  it.each([
    ['the base is missing', { other: 1 }, 0, 'decode-error', 'event has no object of features at "payload.features"'],
    ['the base is not an object', { payload: { features: 7 } }, 0, 'decode-error', 'event has no object of features at "payload.features"'],
    ['a feature under the base is missing', { payload: { features: { a: 1, c: 3 } } }, 1, 'missing-feature', 'feature "b" (at payload.features.b) is missing'],
    ['a value on an own path is a string', { payload: { features: { a: 1, b: 2 } }, m: 'x' }, 2, 'missing-feature', 'feature "c" (at m.c) is missing'],
    ['an own path ends on a string', { payload: { features: { a: 1, b: 2 } }, m: { c: 'x' } }, 2, 'non-numeric-feature', 'feature "c" (at m.c) is string, not a number'],
  ])('agrees with explainBadFeature when %s', (_, event, index, reason, message) => {
    const location = nested('payload.features', { c: 'm.c' });
    expect(compileRowWriter(FEATURES, location)(event, new Float32Array(3), 0)).toBe(index);
    const err = explainBadFeature(event, FEATURES, index, location);
    expect([err.reason, err.message]).toEqual([reason, message]);
  });

  it('does not read through a string on the way (a path part like "length")', () => {
    const location = nested(undefined, { a: 's.length', b: 'n.b', c: 'n.c' });
    expect(compileRowWriter(FEATURES, location)({ s: 'abc', n: { b: 1, c: 2 } }, new Float32Array(3), 0)).toBe(0);
  });

  it('embeds awkward path parts safely', () => {
    const location = nested('"]; throw 1; //', { b: "x.'); globalThis['pwned'] = true; ('" });
    const write = compileRowWriter(['a', 'b'], location);
    const event = { '"]; throw 1; //': { a: 1 }, x: { "'); globalThis['pwned'] = true; ('": 2 } };
    const out = new Float32Array(2);
    expect(write(event, out, 0)).toBe(-1);
    expect(Array.from(out)).toEqual([1, 2]);
    expect((globalThis as { pwned?: unknown }).pwned).toBeUndefined();
  });
});
