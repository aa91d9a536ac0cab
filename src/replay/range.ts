import { ServiceError } from '../errors.js';
import type { PartitionRange, RangeEdge } from './types.js';

/** A replay that cannot be planned as asked (bad range, unknown partition or version). Never retried. */
export class ReplayParamsError extends ServiceError {
  constructor(message: string) {
    super('REPLAY_PARAMS', message);
  }
}

/** A partition's log as the broker reports it: `low` is its first offset, `high` the next one to be written. */
export interface Watermarks {
  readonly partition: number;
  readonly low: number;
  readonly high: number;
}

/**
 * One end of the range, per partition. A time was already turned into the first offset whose
 * timestamp is at or after it (Kafka's ListOffsets), so both ends are offsets here.
 */
export type EdgeOffsets = ReadonlyMap<number, number>;

/** The offsets an edge names for each selected partition; undefined means "the default end". */
export function edgeOffsets(edge: RangeEdge | undefined, partitions: readonly number[], byTime?: EdgeOffsets): EdgeOffsets | undefined {
  if (edge === undefined) return undefined;
  if ('offset' in edge) return new Map(partitions.map((p) => [p, edge.offset]));
  if ('offsets' in edge) {
    const m = new Map<number, number>();
    for (const [p, o] of Object.entries(edge.offsets)) m.set(Number(p), o);
    return m;
  }
  if (byTime === undefined) throw new Error('a time edge needs its offsets resolved first');
  return byTime;
}

/** The partitions to read: those asked for, each checked against the topic, or all of them. */
export function selectPartitions(topic: string, available: readonly number[], asked: readonly number[] | undefined): number[] {
  const all = [...available].sort((a, b) => a - b);
  if (asked === undefined) return all;
  const missing = asked.filter((p) => !all.includes(p));
  if (missing.length > 0) {
    throw new ReplayParamsError(`topic ${topic} has no partition ${missing.join(', ')} (it has ${all.length}: 0-${all.length - 1})`);
  }
  return [...new Set(asked)].sort((a, b) => a - b);
}

/**
 * Resolves `[from, to)` for every selected partition against its watermarks. A start before the
 * log's first offset (records removed by retention) is moved up to it, with a warning; an end past
 * the log's end is the log's end. Offsets named for a partition that is not selected are refused,
 * as is an end before the start.
 */
export function resolveRanges(
  topic: string,
  watermarks: readonly Watermarks[],
  selected: readonly number[],
  from: EdgeOffsets | undefined,
  to: EdgeOffsets | undefined,
): { ranges: PartitionRange[]; warnings: string[] } {
  for (const [label, edge] of [['from', from], ['to', to]] as const) {
    for (const p of edge?.keys() ?? []) {
      if (!selected.includes(p)) throw new ReplayParamsError(`"${label}" names partition ${p}, which is not replayed (partitions: ${selected.join(', ')})`);
    }
  }
  const warnings: string[] = [];
  const ranges: PartitionRange[] = [];
  for (const partition of selected) {
    const w = watermarks.find((x) => x.partition === partition);
    if (w === undefined) throw new ReplayParamsError(`no watermarks for partition ${partition} of ${topic}`);
    const askedStart = from?.get(partition);
    const askedEnd = to?.get(partition);
    if (askedStart !== undefined && askedEnd !== undefined && askedEnd < askedStart) {
      throw new ReplayParamsError(`partition ${partition}: the range ends (${askedEnd}) before it starts (${askedStart})`);
    }
    let start = askedStart ?? w.low;
    if (start < w.low) {
      warnings.push(`partition ${partition}: offsets ${start} to ${w.low - 1} are no longer in the log (retention); the range starts at ${w.low}`);
      start = w.low;
    }
    start = Math.min(start, w.high);
    let end = askedEnd ?? w.high;
    if (end > w.high) {
      warnings.push(`partition ${partition}: the log ends at offset ${w.high}, before the asked end ${end}`);
      end = w.high;
    }
    end = Math.max(end, start);
    ranges.push({ partition, start, end });
  }
  return { ranges, warnings };
}

/** Splits the ranges into units of at most `unitSize` offsets, partition by partition, in offset order. */
export function splitUnits(ranges: readonly PartitionRange[], unitSize: number): PartitionRange[] {
  if (!(unitSize >= 1)) throw new RangeError('unitSize must be at least 1');
  const units: PartitionRange[] = [];
  for (const r of ranges) {
    for (let s = r.start; s < r.end; s += unitSize) units.push({ partition: r.partition, start: s, end: Math.min(r.end, s + unitSize) });
  }
  return units;
}

/** About four units per thread so that threads finish together, but none tiny and none huge. */
export function defaultUnitSize(totalOffsets: number, threads: number): number {
  return Math.min(2_000_000, Math.max(10_000, Math.ceil(totalOffsets / (threads * 4))));
}

/**
 * Parses a CLI offset spec: `N` (every partition) or `P:N,P:N` (by partition).
 * Returns the matching range edge.
 */
export function parseOffsetSpec(spec: string): RangeEdge {
  const s = spec.trim();
  if (/^\d+$/.test(s)) return { offset: Number(s) };
  const offsets: Record<string, number> = {};
  for (const part of s.split(',')) {
    const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(part);
    if (m === null) throw new ReplayParamsError(`offset "${spec}" must be N or P:N,P:N (partition:offset)`);
    if (offsets[m[1]!] !== undefined) throw new ReplayParamsError(`offset "${spec}" names partition ${m[1]} twice`);
    offsets[m[1]!] = Number(m[2]);
  }
  return { offsets };
}
