import { describe, expect, it } from 'vitest';
import { ReplayParamsError, defaultUnitSize, edgeOffsets, parseOffsetSpec, resolveRanges, selectPartitions, splitUnits } from '../../src/replay/range.js';

const marks = [
  { partition: 0, low: 0, high: 100 },
  { partition: 1, low: 20, high: 50 },
  { partition: 2, low: 0, high: 0 },
];

describe('range resolution', () => {
  it('defaults to each partition from its first offset to its end now', () => {
    const { ranges, warnings } = resolveRanges('t', marks, [0, 1, 2], undefined, undefined);
    expect(ranges).toEqual([
      { partition: 0, start: 0, end: 100 },
      { partition: 1, start: 20, end: 50 },
      { partition: 2, start: 0, end: 0 },
    ]);
    expect(warnings).toEqual([]);
  });

  it('takes offsets for every partition or by partition; partitions not named keep the default end', () => {
    const from = edgeOffsets({ offset: 30 }, [0, 1]);
    const to = edgeOffsets({ offsets: { '0': 60 } }, [0, 1]);
    const { ranges } = resolveRanges('t', marks, [0, 1], from, to);
    expect(ranges).toEqual([
      { partition: 0, start: 30, end: 60 },
      { partition: 1, start: 30, end: 50 },
    ]);
  });

  it('moves a start before the log start up to it, with a warning, and an end past the log to its end', () => {
    const { ranges, warnings } = resolveRanges('t', marks, [1], new Map([[1, 5]]), new Map([[1, 500]]));
    expect(ranges).toEqual([{ partition: 1, start: 20, end: 50 }]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('offsets 5 to 19 are no longer in the log');
    expect(warnings[1]).toContain('ends at offset 50');
  });

  it('makes a range that starts past the end empty, at the end', () => {
    const { ranges } = resolveRanges('t', marks, [0], new Map([[0, 150]]), undefined);
    expect(ranges).toEqual([{ partition: 0, start: 100, end: 100 }]);
  });

  it('refuses an end before the start and offsets of partitions not replayed', () => {
    expect(() => resolveRanges('t', marks, [0], new Map([[0, 50]]), new Map([[0, 40]]))).toThrow(ReplayParamsError);
    expect(() => resolveRanges('t', marks, [0], new Map([[1, 5]]), undefined)).toThrow(/names partition 1, which is not replayed/);
  });

  it('uses the offsets a time resolved to (the first at or after it)', () => {
    const byTime = new Map([
      [0, 40],
      [1, 50],
    ]);
    expect(edgeOffsets({ time: 1_700_000_000_000 }, [0, 1], byTime)).toBe(byTime);
    expect(() => edgeOffsets({ time: 1 }, [0])).toThrow(/resolved first/);
    expect(edgeOffsets(undefined, [0])).toBeUndefined();
  });

  it('selects the partitions asked for, sorted and checked', () => {
    expect(selectPartitions('t', [2, 0, 1], undefined)).toEqual([0, 1, 2]);
    expect(selectPartitions('t', [0, 1, 2], [2, 0, 2])).toEqual([0, 2]);
    expect(() => selectPartitions('t', [0, 1, 2], [3])).toThrow(/has no partition 3/);
  });
});

describe('units of work', () => {
  it('splits each range into consecutive units of at most unitSize, none empty', () => {
    const units = splitUnits(
      [
        { partition: 0, start: 10, end: 35 },
        { partition: 1, start: 0, end: 0 },
        { partition: 2, start: 5, end: 15 },
      ],
      10,
    );
    expect(units).toEqual([
      { partition: 0, start: 10, end: 20 },
      { partition: 0, start: 20, end: 30 },
      { partition: 0, start: 30, end: 35 },
      { partition: 2, start: 5, end: 15 },
    ]);
    expect(() => splitUnits([], 0)).toThrow(RangeError);
  });

  it('aims at four units per thread within bounds', () => {
    expect(defaultUnitSize(800_000, 2)).toBe(100_000);
    expect(defaultUnitSize(1000, 2)).toBe(10_000);
    expect(defaultUnitSize(1e12, 2)).toBe(2_000_000);
  });
});

describe('CLI offset specs', () => {
  it('reads N and P:N,P:N', () => {
    expect(parseOffsetSpec('42')).toEqual({ offset: 42 });
    expect(parseOffsetSpec('0:10, 2:7')).toEqual({ offsets: { '0': 10, '2': 7 } });
    expect(() => parseOffsetSpec('0:1,0:2')).toThrow(/twice/);
    expect(() => parseOffsetSpec('x')).toThrow(/partition:offset/);
  });
});
