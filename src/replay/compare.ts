import type { PredictionRecord } from '../codec/types.js';
import type { CompareParams, CompareReport, PinnedModel, ScoreDiffSummary, VersionMetrics } from './types.js';

/**
 * Compare mode's arithmetic, pure: pairs of predictions of the same records by two versions, and
 * what they add up to (agreement, score differences, and each version's metrics against labels).
 */

/** Compared records, column by column (cheap to send between threads). */
export interface ComparePairs {
  /** The score of each version (the positive-class probability for a classifier); NaN when none. */
  scoreA: Float64Array;
  scoreB: Float64Array;
  /** The class each version predicted, when it has a label output. */
  labelA: (string | null)[];
  labelB: (string | null)[];
  /** The record's true label (as text) when it carries one. */
  truth: (string | null)[];
}

/** The number a prediction is compared by: its score, or else the last class probability. */
export function scoreOf(p: PredictionRecord): number {
  if (p.score !== null) return p.score;
  const probs = p.probabilities;
  if (probs !== null && probs.length > 0) return probs[probs.length - 1]!;
  return Number.NaN;
}

/** A label field's value as text: numbers as written (1.0 -> "1"), booleans as "1"/"0". */
export function labelText(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : null;
  if (typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return v === 'true' ? '1' : v === 'false' ? '0' : v;
  return null;
}

export class PairBuffer {
  private scoreA: number[] = [];
  private scoreB: number[] = [];
  private labelA: (string | null)[] = [];
  private labelB: (string | null)[] = [];
  private truth: (string | null)[] = [];

  get length(): number {
    return this.scoreA.length;
  }

  add(a: PredictionRecord, b: PredictionRecord, truth: string | null): void {
    this.scoreA.push(scoreOf(a));
    this.scoreB.push(scoreOf(b));
    this.labelA.push(a.label);
    this.labelB.push(b.label);
    this.truth.push(truth);
  }

  /** Takes what was added so far. */
  take(): ComparePairs {
    const out: ComparePairs = {
      scoreA: Float64Array.from(this.scoreA),
      scoreB: Float64Array.from(this.scoreB),
      labelA: this.labelA,
      labelB: this.labelB,
      truth: this.truth,
    };
    this.scoreA = [];
    this.scoreB = [];
    this.labelA = [];
    this.labelB = [];
    this.truth = [];
    return out;
  }
}

/** The p-quantile (0-1) of ascending values, by nearest rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/**
 * Area under the ROC curve by the rank-sum (Mann-Whitney) statistic, ties counted half.
 * `positive[i]` says whether record i is of the positive class. Null without both classes.
 */
export function auc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => scores[x]! - scores[y]!);
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const midRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let k = i; k <= j; k++) {
      if (positive[order[k]!]) {
        rankSumPos += midRank;
        nPos++;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export function rmse(predicted: ArrayLike<number>, actual: ArrayLike<number>): number | null {
  const n = predicted.length;
  if (n === 0) return null;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (predicted[i]! - actual[i]!) ** 2;
  return Math.sqrt(sum / n);
}

export function summarizeDiffs(diffs: Float64Array): ScoreDiffSummary | null {
  if (diffs.length === 0) return null;
  const sorted = Float64Array.from(diffs).sort();
  let sum = 0;
  for (const d of sorted) sum += d;
  return {
    mean: sum / sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
  };
}

export interface CompareCounts {
  records: number;
  deadLetters: number;
  onlyA: number;
}

/** Adds up the pairs of one job (from every thread) and writes the report. */
export class CompareAccumulator {
  private readonly chunks: ComparePairs[] = [];
  readonly counts: CompareCounts = { records: 0, deadLetters: 0, onlyA: 0 };

  add(pairs: ComparePairs): void {
    if (pairs.scoreA.length > 0) this.chunks.push(pairs);
  }

  addCounts(c: Partial<CompareCounts>): void {
    this.counts.records += c.records ?? 0;
    this.counts.deadLetters += c.deadLetters ?? 0;
    this.counts.onlyA += c.onlyA ?? 0;
  }

  /** Every pair, joined. */
  pairs(): ComparePairs {
    const n = this.chunks.reduce((s, c) => s + c.scoreA.length, 0);
    const out: ComparePairs = { scoreA: new Float64Array(n), scoreB: new Float64Array(n), labelA: [], labelB: [], truth: [] };
    let at = 0;
    for (const c of this.chunks) {
      out.scoreA.set(c.scoreA, at);
      out.scoreB.set(c.scoreB, at);
      out.labelA.push(...c.labelA);
      out.labelB.push(...c.labelB);
      out.truth.push(...c.truth);
      at += c.scoreA.length;
    }
    return out;
  }

  report(a: PinnedModel, b: PinnedModel, params: Pick<CompareParams, 'task' | 'threshold' | 'tolerance' | 'labelField'>): CompareReport {
    return compareReport(this.pairs(), this.counts, a, b, params);
  }
}

export function compareReport(
  p: ComparePairs,
  counts: CompareCounts,
  a: PinnedModel,
  b: PinnedModel,
  params: Pick<CompareParams, 'task' | 'threshold' | 'tolerance' | 'labelField'>,
): CompareReport {
  const n = p.scoreA.length;
  const task = params.task === 'auto' ? inferTask(p) : params.task;
  const classOf = (label: string | null, score: number): string | null =>
    label ?? (Number.isFinite(score) ? (score >= params.threshold ? '1' : '0') : null);

  let agree = 0;
  let disagree = 0;
  const diffs: number[] = [];
  for (let i = 0; i < n; i++) {
    const sa = p.scoreA[i]!;
    const sb = p.scoreB[i]!;
    const bothScored = Number.isFinite(sa) && Number.isFinite(sb);
    if (bothScored) diffs.push(Math.abs(sa - sb));
    let same: boolean;
    if (task === 'classification') same = classOf(p.labelA[i]!, sa) === classOf(p.labelB[i]!, sb);
    else same = bothScored && Math.abs(sa - sb) <= params.tolerance;
    if (same) agree++;
    else disagree++;
  }
  const rule =
    task === 'regression'
      ? `|score A - score B| <= ${params.tolerance}`
      : p.labelA.some((l) => l !== null) || p.labelB.some((l) => l !== null)
        ? 'same predicted label'
        : `same side of the threshold ${params.threshold}`;

  const report: CompareReport = {
    a,
    b,
    task,
    records: counts.records,
    compared: n,
    deadLetters: counts.deadLetters,
    onlyA: counts.onlyA,
    agreement: { rate: n === 0 ? null : agree / n, agree, disagree, rule },
    scoreDiff: summarizeDiffs(Float64Array.from(diffs)),
  };
  if (params.labelField === undefined) return report;
  return { ...report, labels: labelMetrics(p, task, params.labelField, classOf) };
}

function inferTask(p: ComparePairs): 'classification' | 'regression' {
  if (p.labelA.some((l) => l !== null) || p.labelB.some((l) => l !== null)) return 'classification';
  for (const s of [p.scoreA, p.scoreB]) {
    for (const v of s) if (Number.isFinite(v) && (v < 0 || v > 1)) return 'regression';
  }
  return 'classification';
}

function labelMetrics(
  p: ComparePairs,
  task: 'classification' | 'regression',
  field: string,
  classOf: (label: string | null, score: number) => string | null,
): NonNullable<CompareReport['labels']> {
  const idx: number[] = [];
  for (let i = 0; i < p.truth.length; i++) {
    const t = p.truth[i];
    if (t === null || t === undefined) continue;
    if (task === 'regression' && !Number.isFinite(Number(t))) continue;
    idx.push(i);
  }
  const metricsOf = (scores: Float64Array, labels: (string | null)[]): VersionMetrics => {
    if (idx.length === 0) return task === 'regression' ? { rmse: null } : { auc: null, accuracy: null };
    if (task === 'regression') {
      const used = idx.filter((i) => Number.isFinite(scores[i]!));
      return { rmse: rmse(used.map((i) => scores[i]!), used.map((i) => Number(p.truth[i]))) };
    }
    let correct = 0;
    for (const i of idx) if (classOf(labels[i]!, scores[i]!) === normalClass(p.truth[i]!)) correct++;
    const binary = idx.every((i) => isBinary(p.truth[i]!));
    const scored = idx.filter((i) => Number.isFinite(scores[i]!));
    return {
      auc: binary ? auc(scored.map((i) => scores[i]!), scored.map((i) => normalClass(p.truth[i]!) === '1')) : null,
      accuracy: correct / idx.length,
    };
  };
  return { field, labelled: idx.length, a: metricsOf(p.scoreA, p.labelA), b: metricsOf(p.scoreB, p.labelB) };
}

/** "1.0" and "1" are the same class. */
function normalClass(t: string): string {
  const n = Number(t);
  return t.trim() !== '' && Number.isFinite(n) ? String(n) : t;
}

function isBinary(t: string): boolean {
  const c = normalClass(t);
  return c === '0' || c === '1';
}

/** The report as a person reads it. */
export function formatReport(r: CompareReport): string {
  const f = (x: number | null | undefined, digits = 4): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));
  const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);
  const lines = [
    `Compare ${r.a.name} v${r.a.version} (A) with ${r.b.name} v${r.b.version} (B), ${r.task}`,
    `  records in range   ${r.records}  (compared ${r.compared}, dead-lettered ${r.deadLetters}, scored by A only ${r.onlyA})`,
    `  agreement          ${pct(r.agreement.rate)}  (${r.agreement.agree} agree, ${r.agreement.disagree} differ; rule: ${r.agreement.rule})`,
  ];
  const d = r.scoreDiff;
  if (d !== null) {
    lines.push(`  |score A - B|      mean ${f(d.mean, 6)}  p50 ${f(d.p50, 6)}  p90 ${f(d.p90, 6)}  p99 ${f(d.p99, 6)}  max ${f(d.max, 6)}`);
  }
  if (r.labels !== undefined) {
    const l = r.labels;
    lines.push(`  labels ("${l.field}")  ${l.labelled} of ${r.compared} compared records carry one`);
    const row = (name: string, m: VersionMetrics): string =>
      r.task === 'regression' ? `    ${name}  RMSE ${f(m.rmse)}` : `    ${name}  AUC ${f(m.auc)}  accuracy ${pct(m.accuracy ?? null)}`;
    lines.push(row('A', l.a), row('B', l.b));
  }
  return lines.join('\n');
}
