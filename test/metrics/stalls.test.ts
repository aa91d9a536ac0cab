import { describe, expect, it } from 'vitest';
import type { PartitionLag } from '../../src/metrics/lag.js';
import { StallDetector } from '../../src/metrics/stalls.js';

const lag = (partition: number, committed: number | undefined, logEnd: number): PartitionLag => ({
  topic: 't',
  partition,
  committed,
  logEnd,
  lag: logEnd - (committed ?? 0),
});

describe('StallDetector', () => {
  it('reports a partition whose committed offset has not moved for the time set while it has lag', () => {
    const d = new StallDetector(60_000);
    expect(d.observe([lag(0, 10, 50), lag(1, 5, 5)], 0)).toEqual([]);
    expect(d.observe([lag(0, 10, 60), lag(1, 5, 5)], 59_999)).toEqual([]);
    expect(d.observe([lag(0, 10, 70), lag(1, 5, 5)], 60_000)).toEqual([{ topic: 't', partition: 0, lag: 60, sinceMs: 0 }]);
  });

  it('never reports an idle partition (lag 0), nor one that moves, however slowly', () => {
    const d = new StallDetector(1000);
    for (let t = 0; t < 10_000; t += 500) {
      expect(d.observe([lag(0, 7, 7), lag(1, t / 500, 100)], t)).toEqual([]);
    }
  });

  it('starts counting again once the partition moves, and counts a group without commits as unmoved', () => {
    const d = new StallDetector(1000);
    d.observe([lag(0, undefined, 20)], 0);
    expect(d.observe([lag(0, undefined, 20)], 1500)).toHaveLength(1);
    expect(d.observe([lag(0, 3, 20)], 1600)).toEqual([]);
    expect(d.observe([lag(0, 3, 20)], 2500)).toEqual([]);
    expect(d.observe([lag(0, 3, 20)], 2600)).toEqual([{ topic: 't', partition: 0, lag: 17, sinceMs: 1600 }]);
  });
});
