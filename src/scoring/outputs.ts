import type { PredictionRecord } from '../codec/types.js';
import { ModelError } from '../errors.js';
import type { ModelSpec, OutputMapping, ScoredBatch } from './types.js';

/** Row `row` of a scored batch as the record the encoders write. */
export function predictionRecord(batch: ScoredBatch, row: number, model: string, version: string): PredictionRecord {
  let probabilities: number[] | null = null;
  if (batch.probabilities !== undefined) {
    probabilities = Array.from(batch.probabilities.subarray(row * batch.classes, (row + 1) * batch.classes));
  }
  const label = batch.label?.[row];
  let score: number | null = null;
  if (batch.score !== undefined) score = batch.score[row] ?? null;
  else if (batch.positive !== undefined && batch.probabilities !== undefined) score = batch.probabilities[row * batch.classes + batch.positive] ?? null;
  return {
    model,
    version,
    score,
    label: label === undefined ? null : String(label),
    probabilities,
  };
}

/**
 * The probabilities column whose value becomes the score, for a model whose score is not an
 * output of its own: the column of `positiveClass` among the class labels (the graph's, else
 * "0", "1", ...), by default the second of two classes (or the only column). Undefined: no score.
 */
export function positiveColumn(outputs: OutputMapping, classes: number, labels: readonly string[] | undefined): number | undefined {
  const wanted = outputs.positiveClass;
  if (outputs.score !== undefined || outputs.probabilities === undefined) {
    if (wanted === undefined) return undefined;
    const why = outputs.score !== undefined ? `the score is read from output "${outputs.score}"` : 'the model has no probabilities output';
    throw new ModelError('MODEL_POSITIVE_CLASS', `a positive class picks a probabilities column as the score, but ${why}`);
  }
  const names = labels !== undefined && labels.length === classes ? labels : Array.from({ length: classes }, (_, i) => String(i));
  if (wanted !== undefined) {
    const at = names.indexOf(wanted);
    if (at < 0) throw new ModelError('MODEL_POSITIVE_CLASS', `the positive class "${wanted}" is not a class of the model (its classes: ${names.join(', ')})`);
    return at;
  }
  if (classes === 2) return 1;
  return classes === 1 ? 0 : undefined;
}

/** The output mapping a model gets when its registration names none. */
export function inferOutputMapping(
  outputs: readonly { name: string; type: string; shape: readonly (number | string)[] }[],
): ModelSpec['outputs'] {
  const mapping: { score?: string; label?: string; probabilities?: string } = {};
  for (const o of outputs) {
    const width = o.shape.length >= 2 ? o.shape[1] : 1;
    if (o.type === 'int64' || o.type === 'int32' || o.type === 'string') {
      mapping.label ??= o.name;
    } else if (o.type === 'float32' || o.type === 'float64') {
      if (o.name.toLowerCase().includes('prob') || (typeof width === 'number' && width > 1)) {
        mapping.probabilities ??= o.name;
      } else {
        mapping.score ??= o.name;
      }
    }
  }
  return mapping;
}
