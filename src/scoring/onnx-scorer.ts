import ort from 'onnxruntime-node';
import { ModelError, errorMessage } from '../errors.js';
import { inferOutputMapping } from './outputs.js';
import type { ModelSpec, OutputMapping, ScoredBatch, Scorer } from './types.js';

export interface OnnxScorerOptions {
  /** Threads used inside one scoring call. Default 1: the event loop shares the machine. */
  intraOpThreads?: number;
}

export interface ModelDeclaration {
  /** Feature names in input column order. */
  features: readonly string[];
  /** Which outputs mean what; inferred from the model's outputs when absent. */
  outputs?: OutputMapping;
}

/**
 * The onnxruntime adapter. `load` does all the checking a model must pass before it serves: the
 * bytes parse, there is one float input of width `features.length`, the mapped outputs exist and
 * are tensors, and a sample batch scores to finite numbers.
 */
export class OnnxScorer implements Scorer {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly spec: ModelSpec,
    private readonly fetches: readonly string[],
  ) {}

  static async load(bytes: Uint8Array, decl: ModelDeclaration, options: OnnxScorerOptions = {}): Promise<OnnxScorer> {
    let session: ort.InferenceSession;
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
      const spec = checkModel(session, decl);
      const fetches = [spec.outputs.score, spec.outputs.label, spec.outputs.probabilities].filter(
        (n): n is string => n !== undefined,
      );
      const scorer = new OnnxScorer(session, spec, [...new Set(fetches)]);
      await scorer.selfTest();
      return scorer;
    } catch (err) {
      await session.release().catch(() => undefined);
      throw err;
    }
  }

  async score(input: Float32Array, rows: number): Promise<ScoredBatch> {
    const width = this.spec.features.length;
    const data = input.length === rows * width ? input : input.subarray(0, rows * width);
    const tensor = new ort.Tensor('float32', data, [rows, width]);
    const out = await this.session.run({ [this.spec.inputName]: tensor }, this.fetches as string[]);
    const { score, label, probabilities } = this.spec.outputs;
    const probs = probabilities === undefined ? undefined : out[probabilities];
    return {
      rows,
      score: score === undefined ? undefined : (out[score]?.data as Float32Array),
      label: label === undefined ? undefined : (out[label]?.data as BigInt64Array),
      probabilities: probs?.data as Float32Array | undefined,
      classes: probs === undefined ? 0 : Number(probs.dims[1] ?? 1),
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  /** A sample batch of 4 rows must give finite numbers in every mapped output. */
  private async selfTest(): Promise<void> {
    const width = this.spec.features.length;
    const sample = new Float32Array(4 * width);
    for (let i = 0; i < sample.length; i++) sample[i] = ((i * 7919) % 13) / 13 - 0.5;
    let batch: ScoredBatch;
    try {
      batch = await this.score(sample, 4);
    } catch (err) {
      throw new ModelError('MODEL_SAMPLE_FAILED', `the model fails on a sample batch: ${errorMessage(err)}`, { cause: err });
    }
    for (const [name, arr] of [['score', batch.score], ['probabilities', batch.probabilities]] as const) {
      if (arr === undefined) continue;
      for (const v of arr) {
        if (!Number.isFinite(v)) throw new ModelError('MODEL_NOT_FINITE', `the model's ${name} output is not finite on a sample batch`);
      }
    }
  }
}

function checkModel(session: ort.InferenceSession, decl: ModelDeclaration): ModelSpec {
  const features = decl.features;
  if (features.length === 0) throw new ModelError('MODEL_NO_FEATURES', 'the model declares no features');
  if (new Set(features).size !== features.length) throw new ModelError('MODEL_DUPLICATE_FEATURES', 'the feature list names a feature twice');
  const inputs = session.inputMetadata;
  if (inputs.length !== 1) {
    throw new ModelError('MODEL_INPUTS', `the model must have exactly one input, it has ${inputs.length} (${session.inputNames.join(', ')})`);
  }
  const input = inputs[0]!;
  if (!input.isTensor || input.type !== 'float32') {
    throw new ModelError('MODEL_INPUT_TYPE', `input "${input.name}" must be a float32 tensor`);
  }
  if (input.shape.length !== 2) {
    throw new ModelError('MODEL_INPUT_SHAPE', `input "${input.name}" must have shape [N, features], it has [${input.shape.join(', ')}]`);
  }
  const width = input.shape[1];
  if (typeof width === 'number' && width !== features.length) {
    throw new ModelError(
      'MODEL_FEATURE_MISMATCH',
      `input "${input.name}" takes ${width} features but ${features.length} are declared`,
    );
  }

  const described = session.outputMetadata.map((o) => ({
    name: o.name,
    isTensor: o.isTensor,
    type: o.isTensor ? o.type : 'non-tensor',
    shape: o.isTensor ? o.shape : [],
  }));
  const outputs = decl.outputs ?? inferOutputMapping(described.filter((o) => o.isTensor));
  const mapped = Object.entries(outputs).filter(([, name]) => name !== undefined) as [string, string][];
  if (mapped.length === 0) {
    throw new ModelError('MODEL_OUTPUTS', `no output to read a prediction from (outputs: ${session.outputNames.join(', ')})`);
  }
  for (const [role, name] of mapped) {
    const o = described.find((d) => d.name === name);
    if (o === undefined) throw new ModelError('MODEL_OUTPUTS', `the ${role} output "${name}" is not an output of the model`);
    if (!o.isTensor) {
      throw new ModelError('MODEL_OUTPUTS', `the ${role} output "${name}" is not a tensor (a ZipMap? export classifiers without it)`);
    }
  }
  return { features: [...features], inputName: input.name, inputShape: [...input.shape], outputs };
}
