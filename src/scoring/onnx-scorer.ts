import ort from 'onnxruntime-node';
import { ModelError, errorMessage } from '../errors.js';
import { readGraphFacts, type GraphFacts } from './onnx-graph.js';
import { modelSpecOf, type ModelDeclaration } from './onnx-spec.js';
import { positiveColumn } from './outputs.js';
import type { InputSpec, ModelInput, ModelSpec, ScoredBatch, Scorer, TensorData, TypedRows } from './types.js';
import { rowFormatFor } from './vectorize.js';

export type { ModelDeclaration } from './onnx-spec.js';

export interface OnnxScorerOptions {
  /** Threads used inside one scoring call. Default 1: the event loop shares the machine. */
  intraOpThreads?: number;
}

/**
 * The onnxruntime adapter. `load` does all the checking a model must pass before it serves: the
 * bytes parse, each input is a tensor of a type the service fills and the declared fields fit it,
 * the mapped outputs exist and are tensors, and a sample batch scores to finite numbers.
 */
export class OnnxScorer implements Scorer {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly spec: ModelSpec,
    private readonly fetches: readonly string[],
  ) {}

  static async load(bytes: Uint8Array, decl: ModelDeclaration, options: OnnxScorerOptions = {}): Promise<OnnxScorer> {
    let session: ort.InferenceSession;
    let facts: GraphFacts;
    try {
      session = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: options.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new ModelError('MODEL_UNLOADABLE', `onnxruntime cannot load the model: ${errorMessage(err)}`, { cause: err });
    }
    try {
      try {
        facts = readGraphFacts(bytes);
      } catch (err) {
        throw new ModelError('MODEL_UNLOADABLE', `the model's graph cannot be read: ${errorMessage(err)}`, { cause: err });
      }
      const spec = modelSpecOf(described(session), decl, facts);
      const fetches = [...new Set([spec.outputs.score, spec.outputs.label, spec.outputs.probabilities].filter((n): n is string => n !== undefined))];
      const sample = await new OnnxScorer(session, spec, fetches).selfTest();
      const positive = positiveColumn(spec.outputs, sample.classes, facts.classLabels);
      return new OnnxScorer(session, positive === undefined ? spec : { ...spec, positiveColumn: positive }, fetches);
    } catch (err) {
      await session.release().catch(() => undefined);
      throw err;
    }
  }

  async score(input: ModelInput, rows: number): Promise<ScoredBatch> {
    const feeds = input instanceof Float32Array ? this.floatFeeds(input, rows) : this.typedFeeds(input, rows);
    const out = await this.session.run(feeds, this.fetches as string[]);
    const { score, label, probabilities } = this.spec.outputs;
    const probs = probabilities === undefined ? undefined : out[probabilities];
    return {
      rows,
      score: score === undefined ? undefined : (out[score]?.data as Float32Array),
      label: label === undefined ? undefined : (out[label]?.data as BigInt64Array),
      probabilities: probs?.data as Float32Array | undefined,
      classes: probs === undefined ? 0 : Number(probs.dims[1] ?? 1),
      positive: this.spec.positiveColumn,
    };
  }

  async run(inputs: Readonly<Record<string, TensorData>>, outputs?: readonly string[]): Promise<Record<string, TensorData>> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, [...t.dims]);
    const wanted = outputs ?? (this.spec.declaredOutputs ?? []).filter((o) => o.type !== 'non-tensor').map((o) => o.name);
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await this.session.run(feeds, [...wanted]);
    } catch (err) {
      throw new ModelError('MODEL_RUN_FAILED', `the model cannot run on these inputs: ${firstLine(errorMessage(err))}`, { cause: err });
    }
    const result: Record<string, TensorData> = {};
    for (const name of wanted) {
      const t = out[name]!;
      result[name] = { type: t.type, dims: t.dims.map(Number), data: t.data as TensorData['data'] };
    }
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  /** The one float32 input of every feature: the buffer as it is, cut to the rows. */
  private floatFeeds(input: Float32Array, rows: number): Record<string, ort.Tensor> {
    const width = this.spec.features.length;
    const data = input.length === rows * width ? input : input.subarray(0, rows * width);
    return { [this.spec.inputName]: new ort.Tensor('float32', data, [rows, width]) };
  }

  private typedFeeds(input: TypedRows, rows: number): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    (this.spec.inputs ?? []).forEach((spec, i) => {
      feeds[spec.name] = tensorOf(spec, input.columns[i]!, rows);
    });
    return feeds;
  }

  /** A sample batch of 4 rows, written by the model's own row writer, must give finite numbers in every mapped output. */
  private async selfTest(): Promise<ScoredBatch> {
    const format = rowFormatFor(this.spec);
    const buffer = format.alloc(4);
    for (let r = 0; r < 4; r++) {
      const bad = format.write(sampleEvent(this.spec, r), buffer, r * format.stride);
      if (bad >= 0) throw new ModelError('MODEL_SAMPLE_FAILED', `no sample value fits feature "${this.spec.features[bad] ?? bad}"`);
    }
    let batch: ScoredBatch;
    try {
      batch = await this.score(buffer, 4);
    } catch (err) {
      throw new ModelError('MODEL_SAMPLE_FAILED', `the model fails on a sample batch: ${firstLine(errorMessage(err))}`, { cause: err });
    }
    for (const [name, arr] of [['score', batch.score], ['probabilities', batch.probabilities]] as const) {
      if (arr === undefined) continue;
      for (const v of arr) {
        if (!Number.isFinite(v)) throw new ModelError('MODEL_NOT_FINITE', `the model's ${name} output is not finite on a sample batch`);
      }
    }
    return batch;
  }
}

function describedInput(m: ort.InferenceSession.ValueMetadata): { name: string; isTensor: boolean; type: string; shape: (number | string)[] } {
  return m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false, type: 'non-tensor', shape: [] };
}

function described(session: ort.InferenceSession): { inputs: ReturnType<typeof describedInput>[]; outputs: ReturnType<typeof describedInput>[] } {
  return { inputs: session.inputMetadata.map(describedInput), outputs: session.outputMetadata.map(describedInput) };
}

/** The tensor of one input's first `rows` rows. */
function tensorOf(spec: InputSpec, column: TypedRows['columns'][number], rows: number): ort.Tensor {
  const n = rows * spec.fields.length;
  const dims = spec.shape.length === 1 ? [rows] : [rows, spec.fields.length];
  if (Array.isArray(column)) return new ort.Tensor('string', column.length === n ? column : column.slice(0, n), dims);
  const data = column.length === n ? column : column.subarray(0, n);
  return new ort.Tensor(spec.type as 'float32', data as Float32Array, dims);
}

/** Sample values: small numbers, alternating booleans, and for strings a value the input knows (when it is particular). */
function sampleEvent(spec: ModelSpec, row: number): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  const inputs = spec.inputs ?? [{ name: spec.inputName, type: 'float32' as const, shape: spec.inputShape, fields: spec.features }];
  let k = row * spec.features.length;
  for (const input of inputs) {
    const known = spec.categories?.[input.name];
    for (const field of input.fields) {
      k++;
      if (known !== undefined && known.length > 0) event[field] = known[k % known.length];
      else if (input.type === 'float32' || input.type === 'float64') event[field] = ((k * 7919) % 13) / 13 - 0.5;
      else if (input.type === 'int64' || input.type === 'int32') event[field] = k % 3;
      else if (input.type === 'bool') event[field] = k % 2 === 0;
      else event[field] = 'x';
    }
  }
  return event;
}

/** onnxruntime's messages repeat themselves after a line break (its log line); the first says it. */
function firstLine(message: string): string {
  const cut = message.search(/\u001b|\n/);
  return (cut < 0 ? message : message.slice(0, cut)).trim();
}
