/**
 * Progress arithmetic, pure: the rate over a sliding window, the time left at that rate, and the
 * lines the CLI prints.
 */

/** Offsets per second over the last `windowMs` of samples (a sample is a time and a running total). */
export class RateMeter {
  private readonly samples: { t: number; done: number }[] = [];

  constructor(private readonly windowMs = 10_000) {}

  add(tMs: number, done: number): void {
    this.samples.push({ t: tMs, done });
    // Keep one sample older than the window, so the window is always covered.
    while (this.samples.length > 2 && this.samples[1]!.t <= tMs - this.windowMs) this.samples.shift();
  }

  /** Per second; 0 until two samples at least 1 ms apart exist. */
  rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined || last.t - first.t < 1) return 0;
    return Math.max(0, ((last.done - first.done) * 1000) / (last.t - first.t));
  }
}

/** Seconds left: null while the rate is unknown (0), 0 once nothing is left. */
export function etaSeconds(remaining: number, ratePerSecond: number): number | null {
  if (remaining <= 0) return 0;
  if (!(ratePerSecond > 0)) return null;
  return remaining / ratePerSecond;
}

/** doneOffsets / plannedOffsets, 1 for an empty range, never above 1. */
export function ratio(done: number, planned: number): number {
  if (planned <= 0) return 1;
  return Math.min(1, Math.max(0, done / planned));
}

/** `m:ss` or `h:mm:ss`; `--:--` when unknown. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}

/** 1234 -> "1.2k", 2500000 -> "2.5M". */
export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

export interface ProgressView {
  done: number;
  planned: number;
  ratePerSecond: number;
  etaSeconds: number | null;
  predictions: number;
  deadLetters: number;
}

/** `[#########-----------]  45.0%  123.5k/274.0k  41k/s  ETA 0:03  dead letters 12` */
export function progressLine(v: ProgressView, width = 24): string {
  const r = ratio(v.done, v.planned);
  const filled = Math.round(r * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const pct = `${(r * 100).toFixed(1).padStart(5)}%`;
  const dead = v.deadLetters > 0 ? `  dead letters ${v.deadLetters}` : '';
  return `${bar} ${pct}  ${formatCount(v.done)}/${formatCount(v.planned)}  ${formatCount(v.ratePerSecond)}/s  ETA ${formatDuration(v.etaSeconds)}${dead}`;
}
