/**
 * A demo/test classifier with an input of each type the service fills (float32 [N, 2], float64,
 * int64, int32 [N], bool, string) written as ONNX, with a pure-JS reference. Like a skl2onnx
 * ColumnTransformer export, each column but one is an input of its own; the string column goes
 * through an ai.onnx.ml OneHotEncoder with `zeros=0`, so an unknown country would fail a run.
 * It outputs only class probabilities [N, 2], as a classifier without a score output does.
 */
import { attr, encodeModel, floatTensor, valueInfo } from './onnx-writer.js';
import { IR_VERSION, ONNX_ML_OPSET, ONNX_OPSET, PRODUCER_NAME, mulberry32 } from './models.js';

export const COUNTRIES = ['de', 'fr', 'us'] as const;

/** One event of the typed model's features. */
export interface TypedEvent {
  a: number;
  b: number;
  ratio: number;
  count: number;
  small: number;
  flag: boolean;
  country: string;
}

export interface TypedModel {
  bytes: Uint8Array;
  /** The input mapping to register with: `num` takes two fields; the others take the field of their name. */
  inputs: Record<string, string[]>;
  /** Every field, input by input. */
  features: string[];
  /** Deterministic events (`seed`), every value of a type its input takes. */
  events(n: number, seed: number): TypedEvent[];
  /** Probability of class 1 for an event. */
  reference(e: TypedEvent): number;
}

const FLOAT = 1;
/** Weights of a, b, ratio, count, small, flag, then the three countries; and the bias. */
const W = [0.8, -0.5, 0.3, 0.05, -0.2, 0.7, -0.4, 0.1, 0.6];
const BIAS = -0.25;

export function typedClassifier(): TypedModel {
  const cast = (from: string, to: string) => ({ opType: 'Cast', inputs: [from], outputs: [to], attributes: [attr.int('to', FLOAT)] });
  const bytes = encodeModel({
    irVersion: IR_VERSION,
    opsets: [
      { domain: '', version: ONNX_OPSET },
      { domain: 'ai.onnx.ml', version: ONNX_ML_OPSET },
    ],
    producerName: PRODUCER_NAME,
    producerVersion: '1',
    graph: {
      name: 'typed_classifier',
      inputs: [
        valueInfo('num', 'float', ['N', 2]),
        valueInfo('ratio', 'double', ['N', 1]),
        valueInfo('count', 'int64', ['N', 1]),
        valueInfo('small', 'int32', ['N']),
        valueInfo('flag', 'bool', ['N', 1]),
        valueInfo('country', 'string', ['N', 1]),
      ],
      outputs: [valueInfo('probabilities', 'float', ['N', 2])],
      initializers: [
        { name: 'axis1', dims: [1], type: 'int64', data: [1] },
        { name: 'countryShape', dims: [2], type: 'int64', data: [-1, COUNTRIES.length] },
        floatTensor('W', [W.length, 1], W),
        floatTensor('B', [1], [BIAS]),
        floatTensor('one', [1], [1]),
      ],
      nodes: [
        cast('ratio', 'ratioF'),
        cast('count', 'countF'),
        { opType: 'Unsqueeze', inputs: ['small', 'axis1'], outputs: ['small2'] },
        cast('small2', 'smallF'),
        cast('flag', 'flagF'),
        {
          opType: 'OneHotEncoder',
          domain: 'ai.onnx.ml',
          inputs: ['country'],
          outputs: ['countryHot'],
          attributes: [attr.strings('cats_strings', [...COUNTRIES]), attr.int('zeros', 0)],
        },
        { opType: 'Reshape', inputs: ['countryHot', 'countryShape'], outputs: ['countryF'] },
        { opType: 'Concat', inputs: ['num', 'ratioF', 'countF', 'smallF', 'flagF', 'countryF'], outputs: ['x'], attributes: [attr.int('axis', 1)] },
        { opType: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] },
        { opType: 'Add', inputs: ['xw', 'B'], outputs: ['z'] },
        { opType: 'Sigmoid', inputs: ['z'], outputs: ['p'] },
        { opType: 'Sub', inputs: ['one', 'p'], outputs: ['q'] },
        { opType: 'Concat', inputs: ['q', 'p'], outputs: ['probabilities'], attributes: [attr.int('axis', 1)] },
      ],
    },
  });
  return {
    bytes,
    inputs: { num: ['a', 'b'] },
    features: ['a', 'b', 'ratio', 'count', 'small', 'flag', 'country'],
    events: typedEvents,
    reference: (e) => {
      const hot = COUNTRIES.map((c) => (c === e.country ? 1 : 0));
      const x = [e.a, e.b, e.ratio, e.count, e.small, e.flag ? 1 : 0, ...hot];
      let z = BIAS;
      for (let i = 0; i < W.length; i++) z += W[i]! * x[i]!;
      return 1 / (1 + Math.exp(-z));
    },
  };
}

function typedEvents(n: number, seed: number): TypedEvent[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => ({
    a: Math.fround(rng() * 2 - 1),
    b: Math.fround(rng() * 2 - 1),
    ratio: rng() * 2,
    count: Math.floor(rng() * 21),
    small: Math.floor(rng() * 11) - 5,
    flag: rng() < 0.5,
    country: COUNTRIES[Math.floor(rng() * COUNTRIES.length)]!,
  }));
}
