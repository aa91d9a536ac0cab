import { describe, expect, it } from 'vitest';
import { decodeJson, jsonDecoder, jsonPredictionEncoder } from '../../src/codec/json.js';
import { PoisonEventError } from '../../src/errors.js';

function decodeError(value: Buffer | null): PoisonEventError {
  try {
    decodeJson(value);
  } catch (err) {
    expect(err).toBeInstanceOf(PoisonEventError);
    return err as PoisonEventError;
  }
  throw new Error('decodeJson did not throw');
}

describe('decodeJson', () => {
  it('parses a JSON object', () => {
    expect(decodeJson(Buffer.from('{"a":1.5,"b":-2,"name":"x"}'))).toEqual({ a: 1.5, b: -2, name: 'x' });
  });

  it('parses UTF-8 and any JSON value (checking the shape is the vectoriser\'s job)', () => {
    expect(decodeJson(Buffer.from('{"température":21}'))).toEqual({ température: 21 });
    expect(decodeJson(Buffer.from('[1,2]'))).toEqual([1, 2]);
    expect(decodeJson(Buffer.from('null'))).toBeNull();
    expect(decodeJson(Buffer.from('3'))).toBe(3);
  });

  it.each(['{"not json', 'nan', '{a:1}', '\u0000\u0000'])('refuses invalid JSON %j as a decode error', (text) => {
    const err = decodeError(Buffer.from(text));
    expect(err.reason).toBe('decode-error');
    expect(err.message).toMatch(/^value is not JSON: /);
    expect(err.canRetry).toBe(false);
  });

  it('refuses an empty value', () => {
    const err = decodeError(Buffer.alloc(0));
    expect(err.reason).toBe('decode-error');
    expect(err.message).toBe('event has no value');
  });

  it('refuses a null value (a tombstone)', () => {
    const err = decodeError(null);
    expect(err.reason).toBe('decode-error');
    expect(err.message).toBe('event has no value');
  });
});

describe('jsonDecoder', () => {
  it('has nothing to prepare and decodes with decodeJson', async () => {
    await expect(jsonDecoder.prepare([Buffer.from('{}'), null])).resolves.toBeUndefined();
    expect(jsonDecoder.decode(Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    expect(() => jsonDecoder.decode(null)).toThrow(PoisonEventError);
  });
});

describe('jsonPredictionEncoder', () => {
  it('writes a prediction as JSON that reads back equal', () => {
    const p = { model: 'm', version: '3', score: 0.25, label: '1', probabilities: [0.75, 0.25] };
    expect(jsonPredictionEncoder.format).toBe('json');
    expect(JSON.parse(String(jsonPredictionEncoder.encode(p)))).toEqual(p);
  });
});
