import { describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors.js';
import { isPlainFloat, resolveInputs, type DeclaredInput } from '../../src/scoring/inputs.js';

const tensor = (name: string, type: string, shape: (number | string)[]): DeclaredInput => ({ name, type, shape, isTensor: true });

/** As skl2onnx exports a ColumnTransformer pipeline: one [N, 1] input per column. */
const COLUMNS = [tensor('amount', 'float32', ['', 1]), tensor('age', 'int64', ['', 1]), tensor('country', 'string', ['', 1])];

function refusal(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (err) {
    if (err instanceof ModelError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('not refused');
}

describe('resolveInputs', () => {
  it('fills the one input of a model with the features, in order', () => {
    const specs = resolveInputs([tensor('features', 'float32', ['N', 3])], { features: ['a', 'b', 'c'] });
    expect(specs).toEqual([{ name: 'features', type: 'float32', shape: ['N', 3], fields: ['a', 'b', 'c'] }]);
    expect(isPlainFloat(specs)).toBe(true);
  });

  it('fills each one-column input from the field of its name when nothing is declared', () => {
    const specs = resolveInputs(COLUMNS, {});
    expect(specs.map((s) => [s.name, s.type, s.fields])).toEqual([
      ['amount', 'float32', ['amount']],
      ['age', 'int64', ['age']],
      ['country', 'string', ['country']],
    ]);
    expect(isPlainFloat(specs)).toBe(false);
  });

  it('takes features that name the one-column inputs, in any order', () => {
    expect(resolveInputs(COLUMNS, { features: ['country', 'amount', 'age'] }).map((s) => s.fields)).toEqual([['amount'], ['age'], ['country']]);
  });

  it('takes an input mapping, as a record or as the stored list, with a group of fields into an [N, k] input', () => {
    const model = [tensor('num', 'float32', ['N', 2]), tensor('flag', 'bool', ['N']), tensor('code', 'int32', ['N', 'k'])];
    const mapping = { num: ['x', 'y'], code: ['c1', 'c2', 'c3'] };
    const specs = resolveInputs(model, { inputs: mapping });
    expect(specs.map((s) => s.fields)).toEqual([['x', 'y'], ['flag'], ['c1', 'c2', 'c3']]);
    expect(resolveInputs(model, { inputs: specs })).toEqual(specs);
    expect(resolveInputs(model, { inputs: mapping, features: ['x', 'y', 'flag', 'c1', 'c2', 'c3'] })).toEqual(specs);
  });

  it.each([
    ['several inputs and a feature list that is not their names', COLUMNS, { features: ['a', 'b', 'c'] }, 'MODEL_INPUT_MAPPING', /the model has 3 inputs \(amount, age, country\)/],
    ['a mapping naming an input the model lacks', COLUMNS, { inputs: { amounts: ['amount'] } }, 'MODEL_INPUT_MAPPING', /"amounts", which is not an input of the model \(amount, age, country\)/],
    ['a wide input without names', [tensor('features', 'float32', ['N', 4])], {}, 'FEATURES_REQUIRED', /input "features" takes 4 columns/],
    ['too few fields for a fixed width', [tensor('features', 'float32', ['N', 4])], { features: ['a'] }, 'MODEL_FEATURE_MISMATCH', /takes 4 features but 1 are declared/],
    ['two fields for an [N] input', [tensor('flag', 'bool', ['N'])], { inputs: { flag: ['a', 'b'] } }, 'MODEL_FEATURE_MISMATCH', /takes 1 features but 2/],
    ['a field in two inputs', COLUMNS, { inputs: { amount: ['age'] } }, 'MODEL_DUPLICATE_FEATURES', /a field twice/],
    ['features that differ from the mapping', COLUMNS, { inputs: { amount: ['x'] }, features: ['amount', 'age', 'country'] }, 'MODEL_FEATURE_MISMATCH', /differ/],
    ['an element type it cannot fill', [tensor('img', 'uint8', ['N', 3])], { features: ['a', 'b', 'c'] }, 'MODEL_INPUT_TYPE', /input "img" is uint8; inputs can be float32, float64, int64, int32, bool, string/],
    ['a map input', [{ name: 'm', type: 'non-tensor', shape: [], isTensor: false }], {}, 'MODEL_INPUT_TYPE', /not a tensor/],
    ['an input of rank 3', [tensor('x', 'float32', ['N', 2, 2])], {}, 'MODEL_INPUT_SHAPE', /\[N\] or \[N, columns\]/],
    ['a fixed batch size', [tensor('x', 'float32', [1, 2])], { features: ['a', 'b'] }, 'MODEL_INPUT_SHAPE', /fixed batch size of 1/],
    ['no inputs at all', [], {}, 'MODEL_INPUTS', /no inputs/],
    ['an empty feature list', [tensor('x', 'float32', ['N', 'k'])], { features: [] }, 'MODEL_NO_FEATURES', /no field fills input "x"/],
  ])('refuses %s with a reason', (_, model, decl, code, message) => {
    const r = refusal(() => resolveInputs(model as DeclaredInput[], decl as never));
    expect(r.code).toBe(code);
    expect(r.message).toMatch(message);
  });
});
