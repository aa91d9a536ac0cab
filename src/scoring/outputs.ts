import type { PredictionRecord } from '../codec/types.js';
import type { ModelSpec, ScoredBatch } from './types.js';

/** Row `row` of a scored batch as the record the encoders write. */
export function predictionRecord(batch: ScoredBatch, row: number, model: string, version: string): PredictionRecord {
  let probabilities: number[] | null = null;
  if (batch.probabilities !== undefined) {
    probabilities = Array.from(batch.probabilities.subarray(row * batch.classes, (row + 1) * batch.classes));
  }
  const label = batch.label?.[row];
  return {
    model,
    version,
    score: batch.score === undefined ? null : (batch.score[row] ?? null),
    label: label === undefined ? null : String(label),
    probabilities,
  };
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
