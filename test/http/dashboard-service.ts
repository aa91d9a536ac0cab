import { expect } from 'vitest';
import { parseMetrics, samples, type Families } from '../../src/http/dashboard/metrics-parse.js';
import { eventually } from '../support/child.js';

// Reading a running service's own /metrics, for tests that compare what others show with it.

/** The service's current metrics, parsed. */
export async function serviceMetrics(url: string): Promise<Families> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return parseMetrics(await res.text()).families;
}

/**
 * The service's lag per partition of `topic` ([partition, lag], by partition) once every
 * partition has a figure and two readings a lag interval apart agree.
 */
export async function settledLag(url: string, topic: string, partitions: number): Promise<[string, number][]> {
  let previous = '';
  return eventually(
    async () => {
      const lag = samples(await serviceMetrics(url), 'kscore_consumer_lag', { topic })
        .map((s): [string, number] => [s.labels['partition']!, s.value])
        .sort((a, b) => Number(a[0]) - Number(b[0]));
      const key = JSON.stringify(lag);
      const settled = lag.length === partitions && key === previous;
      previous = key;
      if (settled) return lag;
      await new Promise((r) => setTimeout(r, 1200));
      return undefined;
    },
    30_000,
    `settled lag on ${topic}`,
  );
}
