import { describe, expect, it } from 'vitest';
import { RateMeter, etaSeconds, formatCount, formatDuration, progressLine, ratio } from '../../src/replay/progress.js';

describe('progress arithmetic', () => {
  it('measures the rate over the window, per second', () => {
    const m = new RateMeter(10_000);
    expect(m.rate()).toBe(0);
    m.add(0, 0);
    expect(m.rate()).toBe(0);
    m.add(2000, 1000);
    expect(m.rate()).toBe(500);
    m.add(4000, 5000);
    expect(m.rate()).toBe(1250); // (5000 - 0) / 4 s
    // Samples older than the window drop out, but the last one before it stays: the window is covered.
    m.add(20_000, 5000);
    m.add(22_000, 9000);
    expect(m.rate()).toBeCloseTo((9000 - 5000) / 18, 9); // from the sample at 4 s to 22 s
  });

  it('gives the time left at that rate', () => {
    expect(etaSeconds(1000, 250)).toBe(4);
    expect(etaSeconds(0, 0)).toBe(0);
    expect(etaSeconds(10, 0)).toBeNull();
  });

  it('keeps the ratio within [0, 1] and calls an empty range done', () => {
    expect(ratio(25, 100)).toBe(0.25);
    expect(ratio(0, 0)).toBe(1);
    expect(ratio(120, 100)).toBe(1);
  });

  it('formats durations and counts', () => {
    expect(formatDuration(null)).toBe('--:--');
    expect(formatDuration(5)).toBe('0:05');
    expect(formatDuration(125.4)).toBe('2:05');
    expect(formatDuration(3723)).toBe('1:02:03');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1234)).toBe('1.2k');
    expect(formatCount(45_678)).toBe('46k');
    expect(formatCount(2_500_000)).toBe('2.5M');
  });

  it('draws the progress line', () => {
    const line = progressLine({ done: 500, planned: 1000, ratePerSecond: 100, etaSeconds: 5, predictions: 490, deadLetters: 10 }, 10);
    expect(line).toBe('[#####-----]  50.0%  500/1.0k  100/s  ETA 0:05  dead letters 10');
  });
});
