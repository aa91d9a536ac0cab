import type { FeatureBaseline } from '../scoring/types.js';

/** Floor for empty bins, so that the logarithm stays finite (the usual PSI smoothing). */
const EPSILON = 1e-4;

/**
 * Population stability index of observed bin counts against the expected shares:
 * sum over bins of (actual - expected) * ln(actual / expected). Under 0.1: stable; 0.1-0.2: some
 * shift; over 0.2: the population moved.
 */
export function psi(expected: readonly number[], counts: ArrayLike<number>, total: number): number {
  if (total <= 0) return 0;
  let sum = 0;
  for (let b = 0; b < expected.length; b++) {
    const a = Math.max((counts[b] ?? 0) / total, EPSILON);
    const e = Math.max(expected[b]!, EPSILON);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** The bin of `x` among ascending `edges`: the number of edges <= x (numpy's searchsorted, side right). */
export function binOf(edges: readonly number[], x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface TrackedFeature {
  name: string;
  column: number;
  edges: readonly number[];
  shares: readonly number[];
  /** Offset of this feature's bins in a slice's counts. */
  offset: number;
}

/**
 * Input drift of one model version over a sliding window of the most recent events: bin counts of
 * each feature that has baseline bins, kept in `slices` rotating slices so old events age out.
 */
export class DriftWindow {
  private readonly tracked: TrackedFeature[] = [];
  private readonly slices: Uint32Array[];
  private readonly sliceRows: Uint32Array;
  private readonly perSlice: number;
  private current = 0;

  constructor(
    features: readonly string[],
    baseline: Readonly<Record<string, FeatureBaseline>>,
    windowEvents = 10_000,
    sliceCount = 10,
  ) {
    let offset = 0;
    features.forEach((name, column) => {
      const b = baseline[name];
      if (b?.edges === undefined || b.shares === undefined || b.shares.length !== b.edges.length + 1) return;
      this.tracked.push({ name, column, edges: b.edges, shares: b.shares, offset });
      offset += b.shares.length;
    });
    this.slices = Array.from({ length: sliceCount }, () => new Uint32Array(offset));
    this.sliceRows = new Uint32Array(sliceCount);
    this.perSlice = Math.max(1, Math.ceil(windowEvents / sliceCount));
  }

  /** Whether any feature has baseline bins to compare against. */
  get active(): boolean {
    return this.tracked.length > 0;
  }

  /** Counts `rows` rows of `width` values each (row-major). */
  add(input: Float32Array, rows: number, width: number): void {
    if (this.tracked.length === 0) return;
    for (let r = 0; r < rows; r++) {
      if (this.sliceRows[this.current]! >= this.perSlice) this.rotate();
      const counts = this.slices[this.current]!;
      const base = r * width;
      for (const f of this.tracked) counts[f.offset + binOf(f.edges, input[base + f.column]!)]!++;
      this.sliceRows[this.current]!++;
    }
  }

  /** PSI of each tracked feature over the window; empty before the first event. */
  values(): Map<string, number> {
    const out = new Map<string, number>();
    let total = 0;
    for (const n of this.sliceRows) total += n;
    if (total === 0) return out;
    for (const f of this.tracked) {
      const counts = new Float64Array(f.shares.length);
      for (const slice of this.slices) for (let b = 0; b < counts.length; b++) counts[b]! += slice[f.offset + b]!;
      out.set(f.name, psi(f.shares, counts, total));
    }
    return out;
  }

  private rotate(): void {
    this.current = (this.current + 1) % this.slices.length;
    this.slices[this.current]!.fill(0);
    this.sliceRows[this.current] = 0;
  }
}
