import { describe, expect, it } from 'vitest';
import { DriftWindow, binOf, psi } from '../../src/metrics/drift.js';

describe('psi', () => {
  it('is 0 for identical distributions and matches a hand computation otherwise', () => {
    expect(psi([0.25, 0.25, 0.5], [25, 25, 50], 100)).toBeCloseTo(0, 12);
    // (0.5-0.25)ln(2) + (0.25-0.25)ln(1) + (0.25-0.5)ln(0.5) = 0.5 ln 2
    expect(psi([0.25, 0.25, 0.5], [50, 25, 25], 100)).toBeCloseTo(0.5 * Math.log(2), 12);
  });

  it('stays finite when a bin is empty', () => {
    expect(Number.isFinite(psi([0.5, 0.5], [100, 0], 100))).toBe(true);
    expect(psi([0.5, 0.5], [100, 0], 100)).toBeGreaterThan(1);
  });

  it('is 0 with no events', () => {
    expect(psi([0.5, 0.5], [0, 0], 0)).toBe(0);
  });
});

describe('binOf', () => {
  it('counts the edges at or below x, like numpy searchsorted(side="right")', () => {
    const edges = [-1, 0, 1];
    expect(binOf(edges, -5)).toBe(0);
    expect(binOf(edges, -1)).toBe(1);
    expect(binOf(edges, -0.5)).toBe(1);
    expect(binOf(edges, 0)).toBe(2);
    expect(binOf(edges, 1)).toBe(3);
    expect(binOf(edges, 9)).toBe(3);
    expect(binOf([], 3)).toBe(0);
  });
});

describe('DriftWindow', () => {
  const baseline = {
    a: { edges: [0], shares: [0.5, 0.5] },
    b: { edges: [0], shares: [0.5, 0.5] },
  };

  function rows(values: [number, number][]): Float32Array {
    return Float32Array.from(values.flat());
  }

  it('tracks only features with baseline bins, by column', () => {
    const w = new DriftWindow(['a', 'x', 'b'], baseline, 100);
    expect(w.active).toBe(true);
    const input = Float32Array.from([-1, 99, 1, 1, 99, -1]); // a=-1,b=1 ; a=1,b=-1
    w.add(input, 2, 3);
    const v = w.values();
    expect([...v.keys()].sort()).toEqual(['a', 'b']);
    expect(v.get('a')).toBeCloseTo(0, 12);
    expect(new DriftWindow(['x'], baseline).active).toBe(false);
  });

  it('reports a shifted feature and forgets old events as the window slides', () => {
    const w = new DriftWindow(['a', 'b'], baseline, 100, 10);
    // 100 balanced events: no drift.
    for (let i = 0; i < 50; i++) w.add(rows([[-1, -1], [1, 1]]), 2, 2);
    expect(w.values().get('a')).toBeCloseTo(0, 12);
    // 100 events with a always positive: a drifts, b does not; the balanced ones age out.
    for (let i = 0; i < 50; i++) w.add(rows([[1, -1], [1, 1]]), 2, 2);
    const v = w.values();
    expect(v.get('a')!).toBeGreaterThan(0.2);
    expect(v.get('b')!).toBeCloseTo(0, 12);
  });

  it('is empty before any event', () => {
    expect(new DriftWindow(['a'], baseline).values().size).toBe(0);
  });
});
