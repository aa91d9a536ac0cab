import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ServiceMetrics } from '../../src/metrics/metrics.js';
import { ReplayMetrics } from '../../src/replay/metrics.js';
import { ScheduleMetrics } from '../../src/schedule/metrics.js';

// The README's metrics table is what users build dashboards and alerts from: it must name every
// metric the service registers, with its type and labels, and nothing it does not.

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

interface Row {
  names: string[];
  type: string;
  labels: string[];
}

/** The rows of the table under "Metrics (prom-client):". */
function readmeRows(): Row[] {
  const start = README.indexOf('Metrics (prom-client):');
  const rows = README.slice(start).split('\n\n')[1]!.split('\n').slice(2);
  return rows.map((row) => {
    const [names, type, labels] = row.split('|').slice(1, 4).map((c) => c.trim()) as [string, string, string];
    return {
      names: [...names.matchAll(/`([^`]+)`/g)].map((m) => m[1]!),
      type: type.replace(/ \(1\)$/, ''),
      // Values in parentheses, as in `outcome` (`agree`, `disagree`), are not labels.
      labels: [...labels.replace(/\([^)]*\)/g, '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!),
    };
  });
}

describe("the README's metrics table", () => {
  it('lists every kscore_ metric the service registers, with its type and labels', async () => {
    const metrics = new ServiceMetrics(100, 'features');
    new ReplayMetrics(metrics.registry);
    new ScheduleMetrics(metrics.registry);
    const registered = (await metrics.registry.getMetricsAsJSON()).filter((m) => m.name.startsWith('kscore_'));
    const rows = readmeRows().filter((r) => r.names[0]!.startsWith('kscore_'));
    const documented = new Map(rows.flatMap((r) => r.names.map((n) => [n, r] as const)));

    expect([...documented.keys()].sort()).toEqual(registered.map((m) => m.name).sort());
    for (const m of registered) {
      const row = documented.get(m.name)!;
      expect(row.type, m.name).toBe(m.type);
      const labels = [...((metrics.registry.getSingleMetric(m.name) as unknown as { labelNames: string[] }).labelNames)];
      expect(row.labels.sort(), m.name).toEqual(labels.sort());
    }
  });

  it("lists the process metrics under prom-client's default names", async () => {
    const names = (await new ServiceMetrics().registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toContain('process_resident_memory_bytes');
    expect(names).toContain('nodejs_eventloop_lag_p99_seconds');
    expect(names.filter((n) => n.startsWith('kscore_process') || n.startsWith('kscore_nodejs'))).toEqual([]);
    expect(readmeRows().some((r) => r.names.includes('process_*') && r.names.includes('nodejs_*'))).toBe(true);
  });
});
