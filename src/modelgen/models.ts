/**
 * Deterministic demo/test models written as ONNX, each with a pure-JS reference that
 * computes the same outputs (for tests), and the feature list stored in the model's
 * metadata_props under `kscore.features`.
 *
 * All models take one input `features`: float32 [N, nFeatures] with a symbolic batch dim "N".
 */
import { attr, encodeModel, floatTensor, valueInfo } from './onnx-writer.js';
import type { GraphSpec, NodeSpec, ValueInfoSpec } from './onnx-writer.js';

/** Default-domain (ai.onnx) opset the neural/linear models are written against. */
export const ONNX_OPSET = 17;
/** ai.onnx.ml opset for TreeEnsembleClassifier (v3 kernel in onnxruntime). */
export const ONNX_ML_OPSET = 3;
/** IR version written in every model (IR 8 goes with opset 17). */
export const IR_VERSION = 8;

export const INPUT_NAME = 'features';
export const BATCH_DIM = 'N';
export const METADATA_FEATURES_KEY = 'kscore.features';
export const METADATA_KIND_KEY = 'kscore.kind';
export const PRODUCER_NAME = 'kscore-modelgen';

export type ModelKind = 'logistic' | 'mlp' | 'trees' | 'regressor';

export interface OutputSpec {
  type: 'float32' | 'int64';
  shape: (number | string)[];
}

export type ReferenceOutputs = Record<string, Float32Array | BigInt64Array>;

export interface BuiltModel<R extends ReferenceOutputs = ReferenceOutputs> {
  kind: ModelKind;
  /** ONNX ModelProto bytes. */
  bytes: Uint8Array;
  /** Name of the single model input (always `features`). */
  inputName: string;
  /** Feature names, in input column order. */
  features: string[];
  /** Output tensors, by name, in graph output order. */
  outputs: { [K in keyof R]: OutputSpec };
  /** The parameters the model was built from. */
  params: Record<string, number>;
  /** Pure-JS reference: `rows` is row-major [n, features.length]. */
  reference(rows: Float32Array, n: number): R;
}

// ---------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------

/** mulberry32: a tiny 32-bit seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniform(rng: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** `n` rows of `nFeatures` float32 values drawn uniformly from [lo, hi), row-major. */
export function randomRows(n: number, nFeatures: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = mulberry32(seed);
  const out = new Float32Array(n * nFeatures);
  for (let i = 0; i < out.length; i++) out[i] = uniform(rng, lo, hi);
  return out;
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

export function featureNames(nFeatures: number): string[] {
  return Array.from({ length: nFeatures }, (_, i) => `f${i}`);
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
}

function checkRows(rows: Float32Array, n: number, nFeatures: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (rows.length < n * nFeatures) {
    throw new RangeError(`rows holds ${rows.length} values, ${n} x ${nFeatures} needed`);
  }
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

function inputInfo(nFeatures: number): ValueInfoSpec {
  return valueInfo(INPUT_NAME, 'float', [BATCH_DIM, nFeatures]);
}

function encode(kind: ModelKind, features: string[], graph: GraphSpec, ml: boolean): Uint8Array {
  const opsets = [{ domain: '', version: ONNX_OPSET }];
  if (ml) opsets.push({ domain: 'ai.onnx.ml', version: ONNX_ML_OPSET });
  return encodeModel({
    irVersion: IR_VERSION,
    opsets,
    producerName: PRODUCER_NAME,
    producerVersion: '1',
    graph,
    metadata: {
      [METADATA_FEATURES_KEY]: features.join(','),
      [METADATA_KIND_KEY]: kind,
    },
  });
}

/** float32 weights, drawn uniformly in [-a, a). */
function weights(rng: () => number, count: number, a: number): Float32Array {
  const w = new Float32Array(count);
  for (let i = 0; i < count; i++) w[i] = uniform(rng, -a, a);
  return w;
}

/** rows[n, F] · w[F] + b, in double precision, for each row. */
function linear(rows: Float32Array, n: number, nFeatures: number, w: Float32Array, b: number): Float64Array {
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let z = b;
    const off = r * nFeatures;
    for (let j = 0; j < nFeatures; j++) z += (rows[off + j] as number) * (w[j] as number);
    out[r] = z;
  }
  return out;
}

// ---------------------------------------------------------------------------
// 1. Logistic regression
// ---------------------------------------------------------------------------

export type ScoreOutputs = { score: Float32Array };

/** score[N,1] = sigmoid(features · w + b), via MatMul + Add + Sigmoid. */
export function logistic(nFeatures: number, seed: number): BuiltModel<ScoreOutputs> {
  checkInt('nFeatures', nFeatures, 1, 1 << 20);
  const rng = mulberry32(seed);
  // Inputs in [-1, 1] have variance 1/3; this keeps the logit's spread around 1.5.
  const w = weights(rng, nFeatures, 4.5 / Math.sqrt(nFeatures));
  const b = Math.fround(uniform(rng, -0.5, 0.5));
  const features = featureNames(nFeatures);
  const bytes = encode('logistic', features, {
    name: 'logistic',
    nodes: [
      { opType: 'MatMul', inputs: [INPUT_NAME, 'W'], outputs: ['logit_wx'], name: 'matmul' },
      { opType: 'Add', inputs: ['logit_wx', 'B'], outputs: ['logit'], name: 'bias' },
      { opType: 'Sigmoid', inputs: ['logit'], outputs: ['score'], name: 'sigmoid' },
    ],
    initializers: [floatTensor('W', [nFeatures, 1], w), floatTensor('B', [1], [b])],
    inputs: [inputInfo(nFeatures)],
    outputs: [valueInfo('score', 'float', [BATCH_DIM, 1])],
  }, false);
  return {
    kind: 'logistic',
    bytes,
    inputName: INPUT_NAME,
    features,
    outputs: { score: { type: 'float32', shape: [BATCH_DIM, 1] } },
    params: { nFeatures, seed },
    reference(rows, n) {
      checkRows(rows, n, nFeatures);
      const z = linear(rows, n, nFeatures, w, b);
      const score = new Float32Array(n);
      for (let r = 0; r < n; r++) score[r] = sigmoid(z[r] as number);
      return { score };
    },
  };
}

// ---------------------------------------------------------------------------
// 2. MLP
// ---------------------------------------------------------------------------

/** score[N,1] = sigmoid(relu(features·W1 + b1)·W2 + b2), via Gemm + Relu + MatMul + Add + Sigmoid. */
export function mlp(nFeatures: number, hidden: number, seed: number): BuiltModel<ScoreOutputs> {
  checkInt('nFeatures', nFeatures, 1, 1 << 16);
  checkInt('hidden', hidden, 1, 1 << 16);
  const rng = mulberry32(seed);
  // Glorot-uniform style ranges; inputs in [-1, 1].
  const w1 = weights(rng, nFeatures * hidden, Math.sqrt(6 / (nFeatures + hidden)) * 1.7); // row-major [F, H]
  const b1 = weights(rng, hidden, 0.2);
  const w2 = weights(rng, hidden, Math.sqrt(6 / (hidden + 1)));
  const hiddenLogit = (rows: Float32Array, r: number, h: Float64Array): number => {
    const off = r * nFeatures;
    for (let k = 0; k < hidden; k++) h[k] = b1[k] as number;
    for (let j = 0; j < nFeatures; j++) {
      const x = rows[off + j] as number;
      const wrow = j * hidden;
      for (let k = 0; k < hidden; k++) h[k] = (h[k] as number) + x * (w1[wrow + k] as number);
    }
    let z = 0;
    for (let k = 0; k < hidden; k++) z += Math.max(0, h[k] as number) * (w2[k] as number);
    return z;
  };
  // Centre the output bias on a calibration sample (ReLU outputs are all >= 0, which would
  // otherwise shift every logit the same way), so scores spread on both sides of 0.5.
  const calibN = 256;
  const calib = randomRows(calibN, nFeatures, (seed ^ 0x5bd1e995) >>> 0);
  const scratch = new Float64Array(hidden);
  let meanLogit = 0;
  for (let r = 0; r < calibN; r++) meanLogit += hiddenLogit(calib, r, scratch) / calibN;
  const b2 = Math.fround(-meanLogit + uniform(rng, -0.2, 0.2));
  const features = featureNames(nFeatures);
  const bytes = encode('mlp', features, {
    name: 'mlp',
    nodes: [
      { opType: 'Gemm', inputs: [INPUT_NAME, 'W1', 'B1'], outputs: ['h_pre'], name: 'dense1' },
      { opType: 'Relu', inputs: ['h_pre'], outputs: ['h'], name: 'relu' },
      { opType: 'MatMul', inputs: ['h', 'W2'], outputs: ['logit_wx'], name: 'dense2' },
      { opType: 'Add', inputs: ['logit_wx', 'B2'], outputs: ['logit'], name: 'bias2' },
      { opType: 'Sigmoid', inputs: ['logit'], outputs: ['score'], name: 'sigmoid' },
    ],
    initializers: [
      floatTensor('W1', [nFeatures, hidden], w1),
      floatTensor('B1', [hidden], b1),
      floatTensor('W2', [hidden, 1], w2),
      floatTensor('B2', [1], [b2]),
    ],
    inputs: [inputInfo(nFeatures)],
    outputs: [valueInfo('score', 'float', [BATCH_DIM, 1])],
  }, false);
  return {
    kind: 'mlp',
    bytes,
    inputName: INPUT_NAME,
    features,
    outputs: { score: { type: 'float32', shape: [BATCH_DIM, 1] } },
    params: { nFeatures, hidden, seed },
    reference(rows, n) {
      checkRows(rows, n, nFeatures);
      const score = new Float32Array(n);
      const h = new Float64Array(hidden);
      for (let r = 0; r < n; r++) score[r] = sigmoid(hiddenLogit(rows, r, h) + b2);
      return { score };
    },
  };
}

// ---------------------------------------------------------------------------
// 3. Tree ensemble (ai.onnx.ml TreeEnsembleClassifier)
// ---------------------------------------------------------------------------

export type TreeOutputs = { label: BigInt64Array; probabilities: Float32Array };

/** Leaf weights are multiples of this (2^-12), so every partial sum is exact in float32. */
const LEAF_QUANTUM = 1 / 4096;

/**
 * A binary classifier of `nTrees` full binary trees of `depth` split levels (2^depth leaves each),
 * every split `x[f] <= t` (BRANCH_LEQ) on a random feature at a random float32 threshold.
 *
 * Each leaf carries a weight v for class 1 and -v for class 0; with post_transform LOGISTIC
 * onnxruntime outputs probabilities [sigmoid(-s), sigmoid(s)] for s = Σ v over the reached leaves,
 * and label = s > 0 ? 1 : 0. Leaf weights sit on a 2^-12 grid and |s| stays far below 2^12, so
 * the float32 sum is exact whatever order (or thread split) onnxruntime adds the trees in:
 * the reference reproduces labels exactly, and probabilities to float32 rounding.
 * No ZipMap: outputs are plain tensors `label` int64 [N] and `probabilities` float [N, 2].
 */
export function treeEnsemble(nFeatures: number, nTrees: number, depth: number, seed: number): BuiltModel<TreeOutputs> {
  checkInt('nFeatures', nFeatures, 1, 1 << 20);
  checkInt('nTrees', nTrees, 1, 100_000);
  checkInt('depth', depth, 1, 16);
  const forest = randomForest(nFeatures, nTrees, depth, seed);
  const features = featureNames(nFeatures);
  const bytes = encode('trees', features, {
    name: 'trees',
    nodes: [treeEnsembleNode(forest.onnx)],
    inputs: [inputInfo(nFeatures)],
    outputs: [valueInfo('label', 'int64', [BATCH_DIM]), valueInfo('probabilities', 'float', [BATCH_DIM, 2])],
  }, true);

  return {
    kind: 'trees',
    bytes,
    inputName: INPUT_NAME,
    features,
    outputs: {
      label: { type: 'int64', shape: [BATCH_DIM] },
      probabilities: { type: 'float32', shape: [BATCH_DIM, 2] },
    },
    params: { nFeatures, nTrees, depth, seed },
    reference: (rows, n) => forestReference(forest.tables, rows, n),
  };
}

/** The reference's view of a forest, indexed [tree * nNodes + node] (BFS numbering: children of k are 2k+1, 2k+2). */
interface ForestTables {
  nFeatures: number;
  nTrees: number;
  nNodes: number;
  nInternal: number;
  splitFeature: Int32Array;
  splitThreshold: Float32Array;
  leafValue: Float64Array;
}

/** The attributes of ai.onnx.ml TreeEnsembleClassifier, one entry per node (and two per leaf for the class weights). */
interface ForestAttributes {
  nodesTreeIds: number[];
  nodesNodeIds: number[];
  nodesFeatureIds: number[];
  nodesValues: Float32Array;
  nodesModes: string[];
  nodesTrueIds: number[];
  nodesFalseIds: number[];
  classTreeIds: number[];
  classNodeIds: number[];
  classIds: number[];
  classWeights: Float32Array;
}

/** Draws the forest once, into both the reference tables and the ONNX attributes. */
function randomForest(nFeatures: number, nTrees: number, depth: number, seed: number): { tables: ForestTables; onnx: ForestAttributes } {
  const rng = mulberry32(seed);
  const nInternal = (1 << depth) - 1;
  const nNodes = (1 << (depth + 1)) - 1;
  // Per-leaf spread chosen so the ensemble score s has a standard deviation of about 1.5.
  const leafRange = (1.5 * Math.sqrt(3)) / Math.sqrt(nTrees);
  const total = nTrees * nNodes;
  const tables: ForestTables = {
    nFeatures, nTrees, nNodes, nInternal,
    splitFeature: new Int32Array(total),
    splitThreshold: new Float32Array(total),
    leafValue: new Float64Array(total),
  };
  const nLeaves = nTrees * (nNodes - nInternal);
  const onnx: ForestAttributes = {
    nodesTreeIds: new Array<number>(total),
    nodesNodeIds: new Array<number>(total),
    nodesFeatureIds: new Array<number>(total),
    nodesValues: new Float32Array(total),
    nodesModes: new Array<string>(total),
    nodesTrueIds: new Array<number>(total),
    nodesFalseIds: new Array<number>(total),
    classTreeIds: new Array<number>(2 * nLeaves),
    classNodeIds: new Array<number>(2 * nLeaves),
    classIds: new Array<number>(2 * nLeaves),
    classWeights: new Float32Array(2 * nLeaves),
  };
  let c = 0;
  for (let t = 0; t < nTrees; t++) {
    for (let k = 0; k < nNodes; k++) {
      const i = t * nNodes + k;
      onnx.nodesTreeIds[i] = t;
      onnx.nodesNodeIds[i] = k;
      if (k < nInternal) {
        const f = Math.min(nFeatures - 1, Math.floor(rng() * nFeatures));
        const th = Math.fround(uniform(rng, -0.9, 0.9));
        tables.splitFeature[i] = f;
        tables.splitThreshold[i] = th;
        onnx.nodesFeatureIds[i] = f;
        onnx.nodesValues[i] = th;
        onnx.nodesModes[i] = 'BRANCH_LEQ';
        onnx.nodesTrueIds[i] = 2 * k + 1;
        onnx.nodesFalseIds[i] = 2 * k + 2;
        continue;
      }
      const v = Math.round(uniform(rng, -leafRange, leafRange) / LEAF_QUANTUM) * LEAF_QUANTUM;
      tables.leafValue[i] = v;
      onnx.nodesFeatureIds[i] = 0;
      onnx.nodesValues[i] = 0;
      onnx.nodesModes[i] = 'LEAF';
      onnx.nodesTrueIds[i] = 0;
      onnx.nodesFalseIds[i] = 0;
      for (const [cls, wv] of [[0, -v], [1, v]] as const) {
        onnx.classTreeIds[c] = t;
        onnx.classNodeIds[c] = k;
        onnx.classIds[c] = cls;
        onnx.classWeights[c] = wv;
        c++;
      }
    }
  }
  return { tables, onnx };
}

function treeEnsembleNode(a: ForestAttributes): NodeSpec {
  return {
    opType: 'TreeEnsembleClassifier',
    domain: 'ai.onnx.ml',
    name: 'trees',
    inputs: [INPUT_NAME],
    outputs: ['label', 'probabilities'],
    attributes: [
      attr.ints('classlabels_int64s', [0, 1]),
      attr.ints('nodes_treeids', a.nodesTreeIds),
      attr.ints('nodes_nodeids', a.nodesNodeIds),
      attr.ints('nodes_featureids', a.nodesFeatureIds),
      attr.floats('nodes_values', a.nodesValues),
      attr.strings('nodes_modes', a.nodesModes),
      attr.ints('nodes_truenodeids', a.nodesTrueIds),
      attr.ints('nodes_falsenodeids', a.nodesFalseIds),
      attr.ints('class_treeids', a.classTreeIds),
      attr.ints('class_nodeids', a.classNodeIds),
      attr.ints('class_ids', a.classIds),
      attr.floats('class_weights', a.classWeights),
      attr.string('post_transform', 'LOGISTIC'),
    ],
  };
}

/** What onnxruntime should output for `n` rows: each tree walked to its leaf, the leaf weights summed. */
function forestReference(f: ForestTables, rows: Float32Array, n: number): TreeOutputs {
  checkRows(rows, n, f.nFeatures);
  const label = new BigInt64Array(n);
  const probabilities = new Float32Array(2 * n);
  for (let r = 0; r < n; r++) {
    const off = r * f.nFeatures;
    let s = 0;
    for (let t = 0; t < f.nTrees; t++) {
      const base = t * f.nNodes;
      let k = 0;
      while (k < f.nInternal) {
        const i = base + k;
        // Both sides are float32 values, so the double comparison equals the float32 one.
        k = (rows[off + (f.splitFeature[i] as number)] as number) <= (f.splitThreshold[i] as number) ? 2 * k + 1 : 2 * k + 2;
      }
      s += f.leafValue[base + k] as number;
    }
    label[r] = s > 0 ? 1n : 0n;
    probabilities[2 * r] = sigmoid(-s);
    probabilities[2 * r + 1] = sigmoid(s);
  }
  return { label, probabilities };
}

// ---------------------------------------------------------------------------
// 4. Linear regression
// ---------------------------------------------------------------------------

export type RegressionOutputs = { prediction: Float32Array };

/** prediction[N,1] = features · w + b, via MatMul + Add. */
export function regressor(nFeatures: number, seed: number): BuiltModel<RegressionOutputs> {
  checkInt('nFeatures', nFeatures, 1, 1 << 20);
  const rng = mulberry32(seed);
  const w = weights(rng, nFeatures, 1);
  const b = Math.fround(uniform(rng, -2, 2));
  const features = featureNames(nFeatures);
  const bytes = encode('regressor', features, {
    name: 'regressor',
    nodes: [
      { opType: 'MatMul', inputs: [INPUT_NAME, 'W'], outputs: ['wx'], name: 'matmul' },
      { opType: 'Add', inputs: ['wx', 'B'], outputs: ['prediction'], name: 'bias' },
    ],
    initializers: [floatTensor('W', [nFeatures, 1], w), floatTensor('B', [1], [b])],
    inputs: [inputInfo(nFeatures)],
    outputs: [valueInfo('prediction', 'float', [BATCH_DIM, 1])],
  }, false);
  return {
    kind: 'regressor',
    bytes,
    inputName: INPUT_NAME,
    features,
    outputs: { prediction: { type: 'float32', shape: [BATCH_DIM, 1] } },
    params: { nFeatures, seed },
    reference(rows, n) {
      checkRows(rows, n, nFeatures);
      return { prediction: Float32Array.from(linear(rows, n, nFeatures, w, b)) };
    },
  };
}

// ---------------------------------------------------------------------------
// Dispatch by kind
// ---------------------------------------------------------------------------

export interface BuildOptions {
  nFeatures?: number;
  seed?: number;
  /** mlp only. */
  hidden?: number;
  /** trees only. */
  nTrees?: number;
  /** trees only. */
  depth?: number;
}

export const DEFAULT_BUILD_OPTIONS = {
  nFeatures: 16,
  seed: 42,
  hidden: 32,
  nTrees: 100,
  depth: 5,
} as const satisfies Required<BuildOptions>;

export function buildModel(kind: ModelKind, opts: BuildOptions = {}): BuiltModel {
  const d = DEFAULT_BUILD_OPTIONS;
  const o = {
    nFeatures: opts.nFeatures ?? d.nFeatures,
    seed: opts.seed ?? d.seed,
    hidden: opts.hidden ?? d.hidden,
    nTrees: opts.nTrees ?? d.nTrees,
    depth: opts.depth ?? d.depth,
  };
  switch (kind) {
    case 'logistic':
      return logistic(o.nFeatures, o.seed);
    case 'mlp':
      return mlp(o.nFeatures, o.hidden, o.seed);
    case 'trees':
      return treeEnsemble(o.nFeatures, o.nTrees, o.depth, o.seed);
    case 'regressor':
      return regressor(o.nFeatures, o.seed);
    default: {
      const never: never = kind;
      throw new Error(`unknown model kind: ${String(never)}`);
    }
  }
}
