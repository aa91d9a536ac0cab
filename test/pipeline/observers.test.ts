import { describe, expect, it } from 'vitest';
import { observeAll } from '../../src/pipeline/observers.js';
import type { PipelineObserver } from '../../src/pipeline/types.js';

describe('observeAll', () => {
  it('tells every observer that listens, in order, and keeps a lone listener as it is', () => {
    const calls: string[] = [];
    const metrics: PipelineObserver = {
      batchReceived: (topic, _p, n) => calls.push(`metrics ${topic} ${n}`),
      canaryFallback: (n) => calls.push(`fallback ${n}`),
    };
    const log: PipelineObserver = { batchReceived: (topic) => calls.push(`log ${topic}`) };
    const both = observeAll(metrics, log);
    both.batchReceived!('t', 0, 3, 'm');
    both.canaryFallback!(2, 'm');
    expect(calls).toEqual(['metrics t 3', 'log t', 'fallback 2']);
    expect(both.canaryFallback).toBe(metrics.canaryFallback);
    expect(both.deadLettered).toBeUndefined();
  });
});
