import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, afterAll } from 'vitest';
import ort from 'onnxruntime-node';
import { fromBinary, toJson } from '@bufbuild/protobuf';
import { ModelProtoSchema, ValueInfoProtoSchema } from 'onnx-buf';
import {
  encodeModel,
  attr,
  readMetadataProps,
  valueInfo,
  type Int64,
  type TensorSpec,
} from '../../src/modelgen/onnx-writer.js';
import {
  INPUT_NAME,
  METADATA_FEATURES_KEY,
  METADATA_KIND_KEY,
  ONNX_ML_OPSET,
  ONNX_OPSET,
  logistic,
  mlp,
  mulberry32,
  randomRows,
  regressor,
  treeEnsemble,
} from '../../src/modelgen/models.js';
import type { BuiltModel } from '../../src/modelgen/models.js';
import { writeDemoModel } from '../../src/modelgen/cli.js';

const N = 257;
/** Absolute tolerance for outputs in [0, 1] (scores, probabilities). */
const PROB_TOL = 1e-6;
/** Relative tolerance (floored at 1) for unbounded float outputs (regression). */
const REL_TOL = 1e-6;

function int64Tensor(name: string, dims: number[], data: readonly Int64[]): TensorSpec {
  return { name, dims, type: 'int64', data };
}

/** A ModelProto decoded with the official onnx.proto definitions. */
const decode = (bytes: Uint8Array) => fromBinary(ModelProtoSchema, bytes);

async function score(model: BuiltModel, rows: Float32Array, n: number, session?: ort.InferenceSession) {
  const s = session ?? (await ort.InferenceSession.create(model.bytes));
  try {
    const feeds = { [model.inputName]: new ort.Tensor('float32', rows, [n, model.features.length]) };
    return await s.run(feeds);
  } finally {
    if (session === undefined) await s.release();
  }
}

function expectClose(
  name: string,
  actual: ort.Tensor,
  expected: Float32Array | BigInt64Array,
  mode: 'prob' | 'relative' | 'exact',
): void {
  expect(actual.data.length, `${name} length`).toBe(expected.length);
  if (expected instanceof BigInt64Array) {
    expect(actual.type, `${name} type`).toBe('int64');
    expect(Array.from(actual.data as BigInt64Array)).toEqual(Array.from(expected));
    return;
  }
  expect(actual.type, `${name} type`).toBe('float32');
  const got = actual.data as Float32Array;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    const d = Math.abs((got[i] as number) - e);
    const allowed = mode === 'exact' ? 0 : mode === 'prob' ? PROB_TOL : REL_TOL * Math.max(1, Math.abs(e));
    const excess = d / (allowed || Number.MIN_VALUE);
    if (d > allowed && excess > worst) {
      worst = excess;
      worstAt = i;
    }
  }
  expect(worstAt, `${name}[${worstAt}]: onnxruntime ${got[worstAt]} vs reference ${expected[worstAt]}`).toBe(-1);
}

interface Case {
  title: string;
  build: () => BuiltModel;
  tolerance: Record<string, 'prob' | 'relative' | 'exact'>;
}

const cases: Case[] = [
  { title: 'logistic(32)', build: () => logistic(32, 11), tolerance: { score: 'prob' } },
  { title: 'logistic(1)', build: () => logistic(1, 12), tolerance: { score: 'prob' } },
  { title: 'mlp(32, 64)', build: () => mlp(32, 64, 21), tolerance: { score: 'prob' } },
  { title: 'mlp(5, 3)', build: () => mlp(5, 3, 22), tolerance: { score: 'prob' } },
  {
    title: 'treeEnsemble(32, 300, 6)',
    build: () => treeEnsemble(32, 300, 6, 31),
    tolerance: { label: 'exact', probabilities: 'prob' },
  },
  {
    title: 'treeEnsemble(4, 7, 2)',
    build: () => treeEnsemble(4, 7, 2, 32),
    tolerance: { label: 'exact', probabilities: 'prob' },
  },
  { title: 'regressor(32)', build: () => regressor(32, 41), tolerance: { prediction: 'relative' } },
  { title: 'regressor(3)', build: () => regressor(3, 42), tolerance: { prediction: 'relative' } },
];

describe('modelgen models in onnxruntime-node', () => {
  for (const c of cases) {
    describe(c.title, () => {
      const model = c.build();
      const F = model.features.length;

      it('declares the input and outputs onnxruntime sees', async () => {
        const session = await ort.InferenceSession.create(model.bytes);
        try {
          expect(session.inputNames).toEqual([INPUT_NAME]);
          expect(session.inputMetadata).toEqual([{ name: INPUT_NAME, isTensor: true, type: 'float32', shape: ['N', F] }]);
          expect(session.outputNames).toEqual(Object.keys(model.outputs));
          expect(session.outputMetadata).toEqual(
            Object.entries(model.outputs).map(([name, o]) => ({ name, isTensor: true, type: o.type, shape: o.shape })),
          );
        } finally {
          await session.release();
        }
      });

      it(`matches the JS reference on ${N} random rows`, async () => {
        const rows = randomRows(N, F, 1000 + F);
        const out = await score(model, rows, N);
        const ref = model.reference(rows, N);
        expect(Object.keys(out).sort()).toEqual(Object.keys(ref).sort());
        for (const [name, expected] of Object.entries(ref)) {
          const actual = out[name];
          expect(actual, name).toBeDefined();
          expect(actual!.dims).toEqual(model.outputs[name]!.shape.map((d) => (d === 'N' ? N : d)));
          expectClose(name, actual!, expected, c.tolerance[name] ?? 'prob');
        }
      });

      it('matches the reference one row at a time (batch 1) and on rows outside the training range', async () => {
        const session = await ort.InferenceSession.create(model.bytes);
        try {
          const rows = randomRows(16, F, 2000 + F, -3, 3);
          for (let r = 0; r < 16; r++) {
            const row = rows.slice(r * F, (r + 1) * F);
            const out = await score(model, row, 1, session);
            for (const [name, expected] of Object.entries(model.reference(row, 1))) {
              expectClose(`${name} (row ${r})`, out[name]!, expected, c.tolerance[name] ?? 'prob');
            }
          }
        } finally {
          await session.release();
        }
      });

      it('carries the feature list in metadata_props', () => {
        expect(model.features).toEqual(Array.from({ length: F }, (_, i) => `f${i}`));
        const props = readMetadataProps(model.bytes);
        expect(props[METADATA_FEATURES_KEY]).toBe(model.features.join(','));
        expect(props[METADATA_KIND_KEY]).toBe(model.kind);
      });
    });
  }

  it('builds byte-identical models from the same seed, different ones from another', () => {
    expect(Buffer.from(logistic(8, 5).bytes).equals(Buffer.from(logistic(8, 5).bytes))).toBe(true);
    expect(Buffer.from(treeEnsemble(8, 10, 3, 5).bytes).equals(Buffer.from(treeEnsemble(8, 10, 3, 5).bytes))).toBe(true);
    expect(Buffer.from(mlp(8, 4, 5).bytes).equals(Buffer.from(mlp(8, 4, 6).bytes))).toBe(false);
  });

  it('produces both tree labels on random data', () => {
    const m = treeEnsemble(16, 50, 4, 7);
    const { label } = m.reference(randomRows(N, 16, 3), N);
    const ones = label.reduce((a, b) => a + b, 0n);
    expect(ones).toBeGreaterThan(20n);
    expect(ones).toBeLessThan(BigInt(N - 20));
  });
});

describe('onnx-writer', () => {
  it('writes the opsets, IR version and producer', () => {
    const header = decode(treeEnsemble(4, 2, 2, 1).bytes);
    expect(header.irVersion).toBe(8n);
    expect(header.producerName).toBe('kscore-modelgen');
    const opsets = (bytes: Uint8Array) =>
      decode(bytes).opsetImport.map((o) => ({ domain: o.domain, version: Number(o.version) }));
    expect(opsets(treeEnsemble(4, 2, 2, 1).bytes)).toEqual([
      { domain: '', version: ONNX_OPSET },
      { domain: 'ai.onnx.ml', version: ONNX_ML_OPSET },
    ]);
    expect(opsets(logistic(4, 1).bytes)).toEqual([{ domain: '', version: ONNX_OPSET }]);
  });

  it('round-trips attributes of every supported kind', () => {
    const big = -(2n ** 62n) - 3n;
    const bytes = encodeModel({
      opsets: [{ domain: '', version: ONNX_OPSET }],
      graph: {
        name: 'g',
        nodes: [
          {
            opType: 'Identity',
            inputs: ['x'],
            outputs: ['y'],
            attributes: [
              attr.float('f', 0.5),
              attr.int('i', big),
              attr.string('s', 'héllo'),
              attr.floats('fs', [1.5, -2.25]),
              attr.ints('is', [1, -2, 2 ** 40]),
              attr.strings('ss', ['a', 'BRANCH_LEQ']),
              attr.tensor('t', int64Tensor('t', [2], [7n, -8n])),
            ],
          },
        ],
        inputs: [valueInfo('x', 'float', ['N', 2])],
        outputs: [valueInfo('y', 'float', ['N', 2])],
      },
      metadata: { a: '1', 'kscore.features': 'x,y' },
    });
    const m = decode(bytes);
    const attrs = m.graph!.node[0]!.attribute;
    const byName = Object.fromEntries(attrs.map((a) => [a.name, a]));
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    expect(byName['f']).toMatchObject({ type: 1, f: 0.5 });
    expect(byName['i']).toMatchObject({ type: 2, i: big });
    expect(text(byName['s']!.s)).toBe('héllo');
    expect(byName['fs']).toMatchObject({ type: 6, floats: [1.5, -2.25] });
    expect(byName['is']).toMatchObject({ type: 7, ints: [1n, -2n, 2n ** 40n] });
    expect(byName['ss']!.strings.map(text)).toEqual(['a', 'BRANCH_LEQ']);
    expect(byName['t']).toMatchObject({ type: 4, t: { dims: [2n], dataType: 7, int64Data: [7n, -8n], name: 't' } });
    expect(m.graph!.input.map((v) => toJson(ValueInfoProtoSchema, v, { useProtoFieldName: true, enumAsInteger: true }))).toEqual([
      {
        name: 'x',
        type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'N' }, { dim_value: '2' }] } } },
      },
    ]);
    expect(readMetadataProps(bytes)).toEqual({ a: '1', 'kscore.features': 'x,y' });
  });

  it('writes int64 tensors that onnxruntime reads back exactly', async () => {
    const values = [0n, 1n, -1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n];
    const bytes = encodeModel({
      opsets: [{ domain: '', version: ONNX_OPSET }],
      graph: {
        name: 'consts',
        nodes: [
          {
            opType: 'Constant',
            inputs: [],
            outputs: ['c'],
            attributes: [attr.tensor('value', int64Tensor('c', [2, 3], values))],
          },
          { opType: 'Add', inputs: ['x', 'k'], outputs: ['y'] },
        ],
        initializers: [int64Tensor('k', [3], [10, -20, 2 ** 40])],
        inputs: [valueInfo('x', 'int64', ['N', 3])],
        outputs: [valueInfo('c', 'int64', [2, 3]), valueInfo('y', 'int64', ['N', 3])],
      },
    });
    const session = await ort.InferenceSession.create(bytes);
    try {
      const out = await session.run({ x: new ort.Tensor('int64', BigInt64Array.from([1n, 2n, 3n]), [1, 3]) });
      expect(Array.from(out['c']!.data as BigInt64Array)).toEqual(values);
      expect(Array.from(out['y']!.data as BigInt64Array)).toEqual([11n, -18n, 2n ** 40n + 3n]);
    } finally {
      await session.release();
    }
    expect(readMetadataProps(bytes)).toEqual({});
  });

  it('rejects tensors whose data does not match their dims', () => {
    expect(() =>
      encodeModel({
        opsets: [{ domain: '', version: ONNX_OPSET }],
        graph: {
          name: 'bad',
          nodes: [],
          initializers: [int64Tensor('k', [2, 2], [1, 2, 3])],
          inputs: [],
          outputs: [],
        },
      }),
    ).toThrow(/3 values for dims \[2, 2\]/);
  });

  it('mulberry32 is deterministic per seed', () => {
    const a = mulberry32(123);
    const b = mulberry32(123);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe('writeDemoModel', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  for (const kind of ['logistic', 'mlp', 'trees', 'regressor'] as const) {
    it(`writes a loadable ${kind} model and its sidecar`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kscore-modelgen-'));
      dirs.push(dir);
      const outPath = join(dir, 'nested', `${kind}.onnx`);
      const written = await writeDemoModel(kind, outPath, { nFeatures: 6, seed: 3, nTrees: 5, depth: 3, hidden: 4 });
      expect(written.modelPath).toBe(outPath);
      expect(written.sidecarPath).toBe(`${outPath}.json`);

      const sidecar = JSON.parse(await readFile(`${outPath}.json`, 'utf8'));
      expect(sidecar).toEqual(written.sidecar);
      expect(sidecar.kind).toBe(kind);
      expect(sidecar.input).toBe(INPUT_NAME);
      expect(sidecar.features).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5']);

      const bytes = new Uint8Array(await readFile(outPath));
      expect(readMetadataProps(bytes)[METADATA_FEATURES_KEY]).toBe('f0,f1,f2,f3,f4,f5');
      const session = await ort.InferenceSession.create(outPath);
      try {
        expect([...session.outputNames]).toEqual(Object.keys(sidecar.outputs));
      } finally {
        await session.release();
      }
    });
  }
});
