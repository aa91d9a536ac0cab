/** Which model outputs carry the score, the label and the class probabilities. */
export interface OutputMapping {
  /** Output holding one number per row (regression value, or probability of the positive class). */
  readonly score?: string;
  /** Output holding the predicted class per row. */
  readonly label?: string;
  /** Output holding one probability per class per row, shape [N, classes]. */
  readonly probabilities?: string;
}

/** What the service must know to feed a model and read its answer. */
export interface ModelSpec {
  /** Feature names in the order of the model input's second dimension. */
  readonly features: readonly string[];
  /** Name of the model's input tensor (float32, shape [N, features.length]). */
  readonly inputName: string;
  /** The input's shape as the model declares it (symbolic dimensions as names). */
  readonly inputShape: readonly (number | string)[];
  readonly outputs: OutputMapping;
}

/** The outputs of one scored batch, as typed arrays (no per-row objects on the hot path). */
export interface ScoredBatch {
  readonly rows: number;
  readonly score?: Float32Array | Float64Array;
  readonly label?: BigInt64Array | Int32Array | Float32Array | readonly string[];
  readonly probabilities?: Float32Array | Float64Array;
  /** Number of classes: the width of `probabilities`. */
  readonly classes: number;
}

/** A model ready to score: the narrow port the pipeline uses. Implemented over onnxruntime. */
export interface Scorer {
  readonly spec: ModelSpec;
  /** Scores `rows` rows laid out row-major in `input` (length >= rows * features). */
  score(input: Float32Array, rows: number): Promise<ScoredBatch>;
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
