// Types of metrics-parse.js, which the browser loads as plain JavaScript (no build step).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  /** `counter`, `gauge`, `histogram`, `summary` or `untyped`. */
  type: string;
  help: string;
  samples: Sample[];
}

export type Families = Map<string, MetricFamily>;

export interface Histogram {
  /** Cumulative counts by upper bound, ascending, the last one +Inf. */
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

export interface ReplayJob {
  job: string;
  /** `pending`, `running`, `succeeded`, `failed`, `cancelled` or `interrupted`. */
  state: string | undefined;
  /** 0 to 1. */
  progress: number | undefined;
  done: number | undefined;
  planned: number | undefined;
  ratePerSecond: number | undefined;
  /** Undefined when unknown. */
  etaSeconds: number | undefined;
  /** Records written, by kind (`prediction`, `dead_letter`, `already_written`). */
  records: Record<string, number>;
}

export function parseValue(text: string): number;
export function parseMetrics(text: string): { families: Families; errors: number };
export function samples(families: Families, name: string, filter?: Record<string, string>): Sample[];
export function sumOf(families: Families, name: string, filter?: Record<string, string>): number | undefined;
export function histogram(families: Families, name: string, filter?: Record<string, string>): Histogram | undefined;
export function counterIncrease(previous: number | undefined, current: number | undefined): number | undefined;
export function rate(previous: number | undefined, current: number | undefined, seconds: number): number | undefined;
export function histogramIncrease(previous: Histogram | undefined, current: Histogram | undefined): Histogram | undefined;
export function histogramQuantile(q: number, buckets: readonly { le: number; count: number }[]): number;
export function replayJobs(families: Families): ReplayJob[];

export interface ScheduleRow {
  schedule: string;
  paused: boolean;
  running: boolean;
  nextRunAt: number | undefined;
  lastRunAt: number | undefined;
  lastOutcome: string | undefined;
}
export function schedules(families: Families): ScheduleRow[];
