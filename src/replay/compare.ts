import type { PredictionRecord } from '../codec/types.js';
import { agrees, predictedClass, scoreOf } from '../scoring/agreement.js';
import { AucHistogram, QuantileSketch } from './compare-stats.js';

export { scoreOf };
import type { CompareParams, CompareReport, PinnedModel, VersionMetrics } from './types.js';

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

export interface CompareCounts {
  records: number;
  deadLetters: number;
  onlyA: number;
}

type CompareSettings = Pick<CompareParams, 'task' | 'threshold' | 'tolerance' | 'labelField'>;

/** One version's metrics against the labels, added up record by record. */
class VersionTally {
  correct = 0;
  sse = 0;
  sseCount = 0;
  readonly auc = new AucHistogram();
}

/**
 * Adds up the pairs of one job (from every thread, in any order) and writes the report. Nothing
 * grows with the number of pairs (see compare-stats.ts): agreement is counted under both rules
 * until the task is known, the differences go to a quantile sketch, the metrics to sums and score
 * histograms.
 */
export class CompareAccumulator {
  readonly counts: CompareCounts = { records: 0, deadLetters: 0, onlyA: 0 };
  private compared = 0;
  private agreeClass = 0;
  private agreeRegression = 0;
  private anyLabel = false;
  private outOfUnit = false;
  private readonly diffs = new QuantileSketch();
  private labelled = 0;
  private labelledNumeric = 0;
  private allBinary = true;
  private readonly a = new VersionTally();
  private readonly b = new VersionTally();

  constructor(private readonly settings: CompareSettings) {}

  add(p: ComparePairs): void {
    const { threshold, tolerance } = this.settings;
    const classification = { task: 'classification' as const, threshold, tolerance };
    const regression = { task: 'regression' as const, threshold, tolerance };
    for (let i = 0; i < p.scoreA.length; i++) {
      const sa = p.scoreA[i]!;
      const sb = p.scoreB[i]!;
      const la = p.labelA[i] ?? null;
      const lb = p.labelB[i] ?? null;
      this.compared++;
      if (la !== null || lb !== null) this.anyLabel = true;
      if ((Number.isFinite(sa) && (sa < 0 || sa > 1)) || (Number.isFinite(sb) && (sb < 0 || sb > 1))) this.outOfUnit = true;
      if (agrees(la, sa, lb, sb, classification)) this.agreeClass++;
      if (agrees(la, sa, lb, sb, regression)) this.agreeRegression++;
      if (Number.isFinite(sa) && Number.isFinite(sb)) this.diffs.add(Math.abs(sa - sb));
      const truth = p.truth[i] ?? null;
      if (truth !== null) this.addTruth(truth, [sa, la, this.a], [sb, lb, this.b]);
    }
  }

  private addTruth(truth: string, ...versions: [number, string | null, VersionTally][]): void {
    this.labelled++;
    const cls = normalClass(truth);
    const binary = cls === '0' || cls === '1';
    if (!binary) this.allBinary = false;
    const numeric = Number.isFinite(Number(truth));
    if (numeric) this.labelledNumeric++;
    for (const [score, label, t] of versions) {
      if (predictedClass(label, score, this.settings.threshold) === cls) t.correct++;
      if (binary && Number.isFinite(score)) t.auc.add(score, cls === '1');
      if (numeric && Number.isFinite(score)) {
        t.sse += (score - Number(truth)) ** 2;
        t.sseCount++;
      }
    }
  }

  addCounts(c: Partial<CompareCounts>): void {
    this.counts.records += c.records ?? 0;
    this.counts.deadLetters += c.deadLetters ?? 0;
    this.counts.onlyA += c.onlyA ?? 0;
  }

  report(a: PinnedModel, b: PinnedModel): CompareReport {
    const { settings } = this;
    const task = settings.task !== 'auto' ? settings.task : this.anyLabel || !this.outOfUnit ? 'classification' : 'regression';
    const n = this.compared;
    const agree = task === 'regression' ? this.agreeRegression : this.agreeClass;
    const rule =
      task === 'regression' ? `|score A - score B| <= ${settings.tolerance}` : this.anyLabel ? 'same predicted label' : `same side of the threshold ${settings.threshold}`;
    const d = this.diffs;
    const report: CompareReport = {
      a,
      b,
      task,
      records: this.counts.records,
      compared: n,
      deadLetters: this.counts.deadLetters,
      onlyA: this.counts.onlyA,
      agreement: { rate: n === 0 ? null : agree / n, agree, disagree: n - agree, rule },
      scoreDiff: d.count === 0 ? null : { mean: d.sum / d.count, p50: d.quantile(0.5), p90: d.quantile(0.9), p99: d.quantile(0.99), max: d.max },
    };
    if (settings.labelField === undefined) return report;
    const labelled = task === 'regression' ? this.labelledNumeric : this.labelled;
    const metricsOf = (t: VersionTally): VersionMetrics => {
      if (task === 'regression') return { rmse: t.sseCount === 0 ? null : Math.sqrt(t.sse / t.sseCount) };
      if (labelled === 0) return { auc: null, accuracy: null };
      return { auc: this.allBinary ? t.auc.auc() : null, accuracy: t.correct / labelled };
    };
    return { ...report, labels: { field: settings.labelField, labelled, a: metricsOf(this.a), b: metricsOf(this.b) } };
  }
}

/** The report of a set of pairs (the accumulator's arithmetic, at once). */
export function compareReport(p: ComparePairs, counts: CompareCounts, a: PinnedModel, b: PinnedModel, params: CompareSettings): CompareReport {
  const acc = new CompareAccumulator(params);
  acc.add(p);
  acc.addCounts(counts);
  return acc.report(a, b);
}

/** "1.0" and "1" are the same class. */
function normalClass(t: string): string {
  const n = Number(t);
  return t.trim() !== '' && Number.isFinite(n) ? String(n) : t;
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
