import { describe, expect, it } from 'vitest';
import { computeLag } from '../../src/metrics/lag.js';

describe('computeLag', () => {
  it('is log end minus committed, per partition, sorted by partition', () => {
    const lags = computeLag(
      't',
      [
        { partition: 1, low: 0, high: 50 },
        { partition: 0, low: 0, high: 100 },
      ],
      [
        { partition: 0, offset: 60 },
        { partition: 1, offset: 50 },
      ],
    );
    expect(lags).toEqual([
      { topic: 't', partition: 0, logEnd: 100, committed: 60, lag: 40 },
      { topic: 't', partition: 1, logEnd: 50, committed: 50, lag: 0 },
    ]);
  });

  it('counts from the log start when the group committed nothing (offset -1)', () => {
    const lags = computeLag('t', [{ partition: 0, low: 10, high: 25 }], [{ partition: 0, offset: -1 }]);
    expect(lags[0]).toMatchObject({ lag: 15, committed: undefined });
  });

  it('never reports negative lag', () => {
    expect(computeLag('t', [{ partition: 0, low: 0, high: 5 }], [{ partition: 0, offset: 7 }])[0]!.lag).toBe(0);
  });
});
