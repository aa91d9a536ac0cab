/**
 * Compare mode's statistics, kept as a stream: what a report needs is added up pair by pair, so
 * memory does not grow with the range. Score differences go to a log-bucketed sketch (each
 * quantile within 0.5 % of the exact one), AUC to score histograms (100,000 bins over [0, 1]:
 * within about 1e-5 of the rank-sum AUC); counts, sums and maxima are exact.
 */

/** Relative accuracy of the difference quantiles. */
export const QUANTILE_RELATIVE_ERROR = 0.005;
const GAMMA = (1 + QUANTILE_RELATIVE_ERROR) / (1 - QUANTILE_RELATIVE_ERROR);
const LOG_GAMMA = Math.log(GAMMA);
/** Differences below this count as zero (their own bucket). */
const MIN_DIFF = 1e-12;

/** Quantiles of non-negative values, each within QUANTILE_RELATIVE_ERROR of the exact (nearest-rank) one. */
export class QuantileSketch {
  private readonly buckets = new Map<number, number>();
  private zeros = 0;
  count = 0;
  sum = 0;
  max = Number.NEGATIVE_INFINITY;

  add(v: number): void {
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
    if (v < MIN_DIFF) {
      this.zeros++;
      return;
    }
    const i = Math.ceil(Math.log(v) / LOG_GAMMA);
    this.buckets.set(i, (this.buckets.get(i) ?? 0) + 1);
  }

  /** The nearest-rank p-quantile (0-1), approximately; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.min(this.count - 1, Math.max(0, Math.ceil(q * this.count) - 1));
    if (rank < this.zeros) return 0;
    let seen = this.zeros;
    for (const i of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(i)!;
      if (seen > rank) return Math.min(this.max, (2 * GAMMA ** i) / (GAMMA + 1));
    }
    return this.max;
  }
}

const AUC_BINS = 100_000;

/** AUC from histograms of the scores of positive and negative records (scores clamped to [0, 1]). */
export class AucHistogram {
  private readonly pos = new Float64Array(AUC_BINS + 1);
  private readonly neg = new Float64Array(AUC_BINS + 1);
  private nPos = 0;
  private nNeg = 0;

  add(score: number, positive: boolean): void {
    const bin = Math.round(Math.min(1, Math.max(0, score)) * AUC_BINS);
    if (positive) {
      this.pos[bin]!++;
      this.nPos++;
    } else {
      this.neg[bin]!++;
      this.nNeg++;
    }
  }

  /** The share of positive-negative pairs a positive outranks (ties half); null without both classes. */
  auc(): number | null {
    if (this.nPos === 0 || this.nNeg === 0) return null;
    let below = 0;
    let wins = 0;
    for (let b = 0; b <= AUC_BINS; b++) {
      const p = this.pos[b]!;
      const n = this.neg[b]!;
      wins += p * (below + n / 2);
      below += n;
    }
    return wins / (this.nPos * this.nNeg);
  }
}
