import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { GRAFANA_DASHBOARD } from './prometheus.js';

// The Grafana dashboard is importable as is: one Prometheus data-source variable that every panel
// and query uses, no data source baked in, panels that fit the grid, and the figures the service's
// own /dashboard shows. (prometheus.int.test.ts runs every query against a real Prometheus.)

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; datasource?: { type: string; uid: string } }[];
}

interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: unknown }[] };
  panels: Panel[];
}

const load = async (): Promise<Dashboard> => JSON.parse(await readFile(GRAFANA_DASHBOARD, 'utf8')) as Dashboard;

describe('deploy/grafana/kscore-dashboard.json', () => {
  it('has a Prometheus data-source variable, used by every panel and query', async () => {
    const d = await load();
    expect(d.uid).toBe('kscore-overview');
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    const ds = d.templating.list.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const json = JSON.stringify(d);
    expect(json).not.toMatch(/\$\{DS_|"uid":\s*"(?!\$\{datasource\}|kscore-overview)[^"]*"/);
    for (const p of d.panels.filter((p) => p.type !== 'row')) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(new Set(p.targets!.map((t) => t.refId)).size, p.title).toBe(p.targets!.length);
    }
  });

  it('lays its panels out on the 24-column grid without overlaps, with unique ids', async () => {
    const d = await load();
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    const cells = new Set<string>();
    for (const p of d.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const cell = `${i},${j}`;
          expect(cells.has(cell), `${p.title} overlaps at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
    }
  });

  it('shows what the service dashboard shows: lag, throughput, latency, batch sizes, versions, drift, replay, schedules, memory', async () => {
    const d = await load();
    const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const metric of [
      'kscore_consumer_lag',
      'kscore_events_in_total',
      'kscore_predictions_total',
      'kscore_dead_letters_total',
      'kscore_end_to_end_seconds_bucket',
      'kscore_scoring_seconds_bucket',
      'kscore_batch_size_bucket',
      'kscore_model_info',
      'kscore_canary_share',
      'kscore_feature_drift_psi',
      'kscore_replay_',
      'kscore_schedule_next_run_timestamp_seconds',
      'kscore_schedule_last_run_outcome',
      'process_resident_memory_bytes',
    ]) {
      expect(exprs, metric).toContain(metric);
    }
    expect(d.panels.map((p) => p.title)).toEqual(
      expect.arrayContaining(['Throughput', 'Consumer lag by partition', 'End-to-end latency', 'Scoring latency', 'Batch size', 'Live versions', 'Drift by feature (PSI)', 'Replay jobs', 'Schedules']),
    );
    // Rates follow Grafana's interval, and the replica variable filters every per-replica query.
    expect(exprs).not.toMatch(/\[\d+[smh]\]/);
    for (const line of exprs.split('\n').filter((e) => /kscore_(events_in|predictions|dead_letters)_total/.test(e))) {
      expect(line).toContain('instance=~"$instance"');
    }
    // The model variable (every model by default) filters every query of a per-model metric.
    const model = d.templating.list.find((v) => v.name === 'model');
    expect(model?.type).toBe('query');
    expect(JSON.stringify(model?.query)).toContain('label_values(kscore_model_info');
    const perModel = /kscore_(predictions_total|dead_letters_total|end_to_end_seconds_bucket|scoring_seconds_bucket|batch_size_\w+|model_info|canary_share|feature_drift_psi)\{/g;
    for (const line of exprs.split('\n')) {
      for (const m of line.matchAll(perModel)) expect(line.slice(m.index), line).toMatch(/^\w+\{model=~"\$model"/);
    }
  });
});
