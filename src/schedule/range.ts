import { DateTime } from 'luxon';
import type { RangeEdge } from '../replay/types.js';
import type { Carry, RelativeRange } from './types.js';

/** A run's range before the topic is read: replay edges, and the times they stand for. */
export interface ResolvedRange {
  readonly from?: RangeEdge;
  readonly to?: RangeEdge;
  /** Event times `[fromTime, toTime)` for calendar and "last hours" ranges, epoch ms. */
  readonly fromTime?: number;
  readonly toTime?: number;
  /** The time names are made from (`{date}`, `{hour}`, `{start}`): the range's start, or the firing. */
  readonly labelTime: number;
}

/**
 * The range of the run for `firing` (pure). Calendar ranges are read in `timeZone`: a day is from
 * one local midnight to the next (23 or 25 hours on daylight-saving days). "Since previous run"
 * starts at the previous range's end offsets (`carry`, when it is of the same topic), else at
 * `firstFrom` or the log's start, and ends where the log ends when the job starts.
 */
export function resolveRange(range: RelativeRange, firing: number, timeZone: string, carry: Carry | undefined, topic: string): ResolvedRange {
  const at = DateTime.fromMillis(firing, { zone: timeZone });
  switch (range.kind) {
    case 'previous-day': {
      const end = at.startOf('day');
      return times(end.minus({ days: 1 }).toMillis(), end.toMillis());
    }
    case 'previous-hour': {
      const end = at.startOf('hour');
      return times(end.minus({ hours: 1 }).toMillis(), end.toMillis());
    }
    case 'last-hours':
      return times(firing - range.hours * 3_600_000, firing);
    case 'since-previous-run': {
      if (carry !== undefined && carry.topic === topic) return { from: { offsets: { ...carry.offsets } }, labelTime: firing };
      return range.firstFrom === undefined ? { labelTime: firing } : { from: { time: range.firstFrom }, fromTime: range.firstFrom, labelTime: firing };
    }
  }
}

function times(fromTime: number, toTime: number): ResolvedRange {
  return { from: { time: fromTime }, to: { time: toTime }, fromTime, toTime, labelTime: fromTime };
}

/** Where this run ends, as the next "since previous run" range starts: per partition, the end offset. */
export function carryFrom(topic: string, partitions: readonly { partition: number; end: number }[]): Carry {
  return { topic, offsets: Object.fromEntries(partitions.map((p) => [String(p.partition), p.end])) };
}
