import { OnnxScorer } from '../scoring/onnx-scorer.js';
import type { ModelStore, ModelVersionMeta, NewModelVersion } from './types.js';

/**
 * Validates a model before anything is written: it must load in onnxruntime, its input must take
 * the declared features and a sample batch must score to finite numbers (see `OnnxScorer.load`).
 * A refused model throws a `ModelError` whose message says why, and the store is unchanged.
 */
export async function registerModel(
  store: ModelStore,
  name: string,
  input: NewModelVersion,
  options: { alias?: string } = {},
): Promise<ModelVersionMeta> {
  const scorer = await OnnxScorer.load(input.bytes, input);
  const outputs = scorer.spec.outputs;
  await scorer.release();
  const meta = await store.addVersion(name, { ...input, outputs });
  if (options.alias !== undefined) await store.setAlias(name, options.alias, meta.version);
  return meta;
}
