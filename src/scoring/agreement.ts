import type { PredictionRecord } from '../codec/types.js';

/**
 * When two versions agree on a record: the one rule behind shadow scoring's agreement counts and
 * compare mode's report.
 *  - classification: the same class, each side's class being its label, or else its score's side
 *    of `threshold`;
 *  - regression: both scored and `|score A - score B| <= tolerance`.
 */
export interface AgreementRule {
  readonly task: 'classification' | 'regression';
  readonly threshold: number;
  readonly tolerance: number;
}

/** Shadow scoring's rule: classes, by label or by the side of 0.5. */
export const SHADOW_AGREEMENT: AgreementRule = { task: 'classification', threshold: 0.5, tolerance: 0 };

/** The number a prediction is compared by: its score, or else the last class probability; NaN when none. */
export function scoreOf(p: PredictionRecord): number {
  if (p.score !== null) return p.score;
  const probs = p.probabilities;
  if (probs !== null && probs.length > 0) return probs[probs.length - 1]!;
  return Number.NaN;
}

/** A prediction's class: its label, or else its score's side of `threshold` ('1' or '0'); null when neither. */
export function predictedClass(label: string | null, score: number, threshold: number): string | null {
  if (label !== null) return label;
  return Number.isFinite(score) ? (score >= threshold ? '1' : '0') : null;
}

/** Whether two predictions of one record agree (labels and scores as `scoreOf` gives them). */
export function agrees(labelA: string | null, scoreA: number, labelB: string | null, scoreB: number, rule: AgreementRule): boolean {
  if (rule.task === 'regression') return Number.isFinite(scoreA) && Number.isFinite(scoreB) && Math.abs(scoreA - scoreB) <= rule.tolerance;
  const a = predictedClass(labelA, scoreA, rule.threshold);
  return a !== null && a === predictedClass(labelB, scoreB, rule.threshold);
}
