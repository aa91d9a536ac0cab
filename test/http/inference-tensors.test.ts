import { describe, expect, it } from 'vitest';
import { feedsOf, oipTensor, requestedOutputs, tensorMetadata } from '../../src/http/inference-tensors.js';
import type { InputSpec } from '../../src/scoring/types.js';

const inputs: InputSpec[] = [
  { name: 'num', type: 'float32', shape: ['N', 2], fields: ['a', 'b'] },
  { name: 'count', type: 'int64', shape: ['N', 1], fields: ['count'] },
  { name: 'flag', type: 'bool', shape: ['N'], fields: ['flag'] },
  { name: 'country', type: 'string', shape: ['N', 1], fields: ['country'] },
];
const good = {
  inputs: [
    { name: 'num', datatype: 'FP32', shape: [2, 2], data: [[0.5, 1], [2, 3]] },
    { name: 'count', datatype: 'INT64', shape: [2, 1], data: [3, -4] },
    { name: 'flag', datatype: 'BOOL', shape: [2], data: [true, false] },
    { name: 'country', datatype: 'BYTES', shape: [2, 1], data: ['de', 'us'] },
  ],
};

describe('Open Inference Protocol tensors', () => {
  it('turns JSON tensors into typed feeds, nested data flattened row-major', () => {
    const feeds = feedsOf(good, inputs);
    expect(feeds['num']).toEqual({ type: 'float32', dims: [2, 2], data: Float32Array.from([0.5, 1, 2, 3]) });
    expect(feeds['count']).toEqual({ type: 'int64', dims: [2, 1], data: BigInt64Array.from([3n, -4n]) });
    expect(feeds['flag']).toEqual({ type: 'bool', dims: [2], data: Uint8Array.from([1, 0]) });
    expect(feeds['country']).toEqual({ type: 'string', dims: [2, 1], data: ['de', 'us'] });
  });

  it('refuses what does not fit the model, saying what', () => {
    const wrong = (patch: object, i = 1) => ({ inputs: good.inputs.map((t, k) => (k === i ? { ...t, ...patch } : t)) });
    expect(() => feedsOf({}, inputs)).toThrow('the request needs "inputs", a list of tensors');
    expect(() => feedsOf(wrong({ datatype: 'FP32' }), inputs)).toThrow('input "count" is INT64, not FP32');
    expect(() => feedsOf(wrong({ data: [3] }), inputs)).toThrow('input "count" has 1 values for shape [2, 1] (2)');
    expect(() => feedsOf(wrong({ data: [3, 0.5] }), inputs)).toThrow('input "count" takes integers within ±2^53');
    expect(() => feedsOf(wrong({ data: [1, 0] }, 2), inputs)).toThrow('input "flag" takes booleans');
    expect(() => feedsOf(wrong({ shape: [-1, 1] }), inputs)).toThrow('input "count" needs a shape of non-negative integers');
    expect(() => feedsOf({ inputs: good.inputs.slice(1) }, inputs)).toThrow('input "num" is missing');
    expect(() => feedsOf(wrong({ name: 'x' }), inputs)).toThrow('"x" is not an input of the model (num, count, flag, country)');
  });

  it('describes tensors with the protocol\'s datatypes and -1 for symbolic dimensions', () => {
    expect(tensorMetadata({ name: 'num', type: 'float32', shape: ['N', 2] })).toEqual({ name: 'num', datatype: 'FP32', shape: [-1, 2] });
    expect(tensorMetadata({ name: 'c', type: 'string', shape: ['', 1] })).toEqual({ name: 'c', datatype: 'BYTES', shape: [-1, 1] });
  });

  it('writes results as JSON tensors and checks the outputs asked for', () => {
    expect(oipTensor('label', { type: 'int64', dims: [2], data: BigInt64Array.from([0n, 1n]) })).toEqual({ name: 'label', shape: [2], datatype: 'INT64', data: [0, 1] });
    expect(oipTensor('ok', { type: 'bool', dims: [1], data: Uint8Array.from([1]) }).data).toEqual([true]);
    const outputs = [{ name: 'label', type: 'int64', shape: ['N'] }, { name: 'probabilities', type: 'float32', shape: ['N', 2] }];
    expect(requestedOutputs({}, outputs)).toBeUndefined();
    expect(requestedOutputs({ outputs: [{ name: 'label' }] }, outputs)).toEqual(['label']);
    expect(() => requestedOutputs({ outputs: [{ name: 'score' }] }, outputs)).toThrow('"score" is not an output of the model (label, probabilities)');
  });
});
