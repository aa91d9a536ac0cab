/** Which model outputs carry the score, the label and the class probabilities. */
export interface OutputMapping {
  /** Output holding one number per row (regression value, or probability of the positive class). */
  readonly score?: string;
  /** Output holding the predicted class per row. */
  readonly label?: string;
  /** Output holding one probability per class per row, shape [N, classes]. */
  readonly probabilities?: string;
  /**
   * Without a score output: the class whose probability is the score, as the model labels its
   * classes (e.g. "1", "fraud"; column numbers "0", "1", ... when it names none). Default: the
   * last of two classes; a model of more classes gets a score only when this is set.
   */
  readonly positiveClass?: string;
}

/** Element types of model inputs the service fills from event fields. */
export const INPUT_TYPES = ['float32', 'float64', 'int64', 'int32', 'bool', 'string'] as const;
export type InputType = (typeof INPUT_TYPES)[number];

/** One model input and the event fields that fill it, one field per column. */
export interface InputSpec {
  readonly name: string;
  readonly type: InputType;
  /** The shape the model declares, [N] or [N, k] (a symbolic dimension as its name, '' when unnamed). */
  readonly shape: readonly (number | string)[];
  /** Event fields in column order: the input is [rows, fields.length] ([rows] when its shape is [N]). */
  readonly fields: readonly string[];
}

/** A tensor the model declares (an input or an output), as onnxruntime describes it. */
export interface TensorInfo {
  readonly name: string;
  /** onnxruntime's element type name (float32, int64, string, ...), or 'non-tensor' (a map or sequence). */
  readonly type: string;
  readonly shape: readonly (number | string)[];
}

/** What the service must know to feed a model and read its answer. */
export interface ModelSpec {
  /** Every event field the model reads, input by input, column by column. */
  readonly features: readonly string[];
  /** Name of the model's first input (its only one when it takes one float32 tensor of all features). */
  readonly inputName: string;
  /** The first input's shape as the model declares it (symbolic dimensions as names). */
  readonly inputShape: readonly (number | string)[];
  /** Every input with its type and fields; absent: one float32 input `inputName` of all `features`. */
  readonly inputs?: readonly InputSpec[];
  readonly outputs: OutputMapping;
  /** Every output the model declares. */
  readonly declaredOutputs?: readonly TensorInfo[];
  /** The probabilities column whose value is the score, when the score comes from probabilities. */
  readonly positiveColumn?: number;
  /** Values an input accepts, by input name, where any other value would fail the whole batch. */
  readonly categories?: Readonly<Record<string, readonly (string | number)[]>>;
}

/** One column buffer of a typed batch: row-major [rows, width] of the input's element type. */
export type ColumnBuffer = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | string[];

/** The rows of a batch for a model of typed or several inputs: one buffer per input, in input order. */
export interface TypedRows {
  readonly columns: readonly ColumnBuffer[];
}

/** A batch's input: one float32 buffer of all features (the fast path), or typed rows. */
export type ModelInput = Float32Array | TypedRows;

/** A tensor outside onnxruntime's types: element type, dimensions and row-major data. */
export interface TensorData {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: ColumnBuffer | BigUint64Array | Int8Array | Int16Array | Uint16Array | Uint32Array;
}

/** The outputs of one scored batch, as typed arrays (no per-row objects on the hot path). */
export interface ScoredBatch {
  readonly rows: number;
  readonly score?: Float32Array | Float64Array;
  readonly label?: BigInt64Array | Int32Array | Float32Array | readonly string[];
  readonly probabilities?: Float32Array | Float64Array;
  /** Number of classes: the width of `probabilities`. */
  readonly classes: number;
  /** The probabilities column that is the score when there is no score output. */
  readonly positive?: number | undefined;
}

/** A model ready to score: the narrow port the pipeline uses. Implemented over onnxruntime. */
export interface Scorer {
  readonly spec: ModelSpec;
  /** Scores the first `rows` rows of `input` (row-major, as `spec` lays them out). */
  score(input: ModelInput, rows: number): Promise<ScoredBatch>;
  /** Runs the model on tensors given by input name; answers the `outputs` named (default: every tensor output). */
  run(inputs: Readonly<Record<string, TensorData>>, outputs?: readonly string[]): Promise<Record<string, TensorData>>;
  release(): Promise<void>;
}

/** Statistics of one feature in the training data, kept for drift monitoring. */
export interface FeatureBaseline {
  readonly mean?: number;
  readonly std?: number;
  /** Bin edges (ascending) and the share of training rows in each bin (edges.length + 1 shares). */
  readonly edges?: readonly number[];
  readonly shares?: readonly number[];
}

/** A scorer together with the registry identity it came from. */
export interface LiveModel {
  readonly name: string;
  readonly version: string;
  readonly scorer: Scorer;
  /** Training-data statistics per feature, when the version was registered with them. */
  readonly baseline?: Readonly<Record<string, FeatureBaseline>>;
}
