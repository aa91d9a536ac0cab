import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { histogramQuantile, parseValue } from '../../src/http/dashboard/metrics-parse.js';
import { logistic } from '../../src/modelgen/models.js';
import { RedisModelStore, registerModel } from '../../src/registry/index.js';
import { eventually } from '../support/child.js';
import { produceEvents, redisFor, testConfig } from '../support/harness.js';
import { startService } from '../support/service.js';
import { settledLag } from '../http/dashboard-service.js';
import { GRAFANA_DASHBOARD, shippedConfigFor, startPrometheus, type PromSample, type RunningPrometheus } from './prometheus.js';
import { cleanupAfterEach } from '../support/cleanup.js';

// A real Prometheus (Debian's), configured from deploy/prometheus/, scrapes a real service: the
// figures it stores are the service's, the shipped alert rules evaluate cleanly against them, and
// every query of the Grafana dashboard is valid PromQL that finds the service's series.

const cleanups = cleanupAfterEach();

const N = 2000;
const BAD_EVERY = 50;

const single = (result: PromSample[]): number => {
  expect(result).toHaveLength(1);
  return parseValue(result[0]!.value[1]);
};

interface GrafanaPanel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

/** Grafana's variables, as Grafana would expand them for this test's Prometheus. */
function expand(expr: string): string {
  return expr.replaceAll('$__rate_interval', '15s').replaceAll('$instance', '.*').replaceAll('$model', '.*').replaceAll('$job', 'kscore');
}

describe('Prometheus scraping the service with the shipped configuration', () => {
  it('stores the service figures, evaluates the alert rules, and answers every Grafana query', async () => {
    const config = testConfig({ lagIntervalMs: 1000 });
    const model = logistic(8, 4);
    const redis = redisFor(config);
    // A baseline, so that the drift gauge has series; f0's is off so that it drifts.
    const baseline = Object.fromEntries(model.features.map((f, i) => [f, { edges: [-0.5, 0, 0.5], shares: i === 0 ? [0.7, 0.1, 0.1, 0.1] : [0.25, 0.25, 0.25, 0.25] }]));
    await registerModel(new RedisModelStore(redis, config.redisKeyPrefix), config.modelName, { bytes: Buffer.from(model.bytes), features: model.features, baseline }, { alias: 'production' });
    await redis.quit();
    const { url } = await startService(config, cleanups);
    const target = new URL(url).host;

    const prom: RunningPrometheus = await startPrometheus(await shippedConfigFor(target));
    cleanups.push(() => prom.stop());
    await eventually(async () => ((await prom.query('up{job="kscore"}')).some((s) => s.value[1] === '1') ? true : undefined), 30_000, 'target up');
    const targets = await prom.api<{ activeTargets: { scrapeUrl: string; health: string; labels: Record<string, string> }[] }>('/api/v1/targets');
    expect(targets.activeTargets.map((t) => [t.scrapeUrl, t.health, t.labels['service']])).toEqual([[`http://${target}/metrics`, 'up', 'kscore']]);

    // Labelled counters appear with their first event, and Prometheus sees no increase in a
    // series' first sample: a first small batch creates them, then the load runs for seconds.
    const warm = 200;
    expect(await produceEvents(config, { rate: 0, count: warm, format: 'json', features: model.features, badEvery: BAD_EVERY, seed: 4 })).toBe(warm);
    await eventually(async () => ((await prom.query('kscore_dead_letters_total{job="kscore"}')).length > 0 ? true : undefined), 30_000, 'dead-letter series scraped');
    const rest = N - warm;
    expect(await produceEvents(config, { rate: 600, count: rest, format: 'json', features: model.features, badEvery: BAD_EVERY, seed: 5 })).toBe(rest);
    const bad = warm / BAD_EVERY + rest / BAD_EVERY;

    // What Prometheus stored is what the service counted: every event, scored or dead-lettered.
    await eventually(async () => {
      const got = await prom.query('kscore_predictions_total{job="kscore"}');
      return got.length === 1 && got[0]!.value[1] === String(N - bad) ? true : undefined;
    }, 30_000, `kscore_predictions_total = ${N - bad} in Prometheus`);
    await eventually(async () => ((await prom.query('sum(kscore_dead_letters_total{job="kscore"})'))[0]?.value[1] === String(bad) ? true : undefined), 10_000, 'dead letters');
    expect(single(await prom.query(`kscore_events_in_total{job="kscore", topic="${config.featuresTopic}"}`))).toBe(N);

    // The live version, by alias.
    const live = await prom.query('kscore_model_info{job="kscore"} == 1');
    expect(live.map((s) => [s.metric['alias'], s.metric['model'], s.metric['version']])).toEqual([['production', config.modelName, '1']]);

    // Lag per partition of the features topic: what the service reports once it settles.
    const lag = await settledLag(url, config.featuresTopic, config.topicPartitions);
    await eventually(async () => {
      const got = (await prom.query(`kscore_consumer_lag{job="kscore", topic="${config.featuresTopic}"}`))
        .map((s): [string, number] => [s.metric['partition']!, Number(s.value[1])])
        .sort((a, b) => Number(a[0]) - Number(b[0]));
      return JSON.stringify(got) === JSON.stringify(lag) ? true : undefined;
    }, 15_000, `Prometheus lag = service lag ${JSON.stringify(lag)}`);

    // The dashboard's client-side quantiles agree with Prometheus' histogram_quantile on the same samples.
    const at = Date.now() / 1000;
    for (const name of ['kscore_batch_size', 'kscore_scoring_seconds', 'kscore_end_to_end_seconds']) {
      const buckets = (await prom.query(`sum by (le) (${name}_bucket{job="kscore"})`, at)).map((s) => ({ le: parseValue(s.metric['le']!), count: Number(s.value[1]) }));
      expect(buckets.length, name).toBeGreaterThan(3);
      for (const q of [0.5, 0.9, 0.99]) {
        const theirs = single(await prom.query(`histogram_quantile(${q}, sum by (le) (${name}_bucket{job="kscore"}))`, at));
        expect(histogramQuantile(q, buckets), `${name} q${q}`).toBeCloseTo(theirs, 9);
      }
    }

    // The shipped rules load and evaluate without error against the real series.
    await eventually(async () => {
      const { groups } = await prom.api<{ groups: { rules: { name: string; health: string; lastEvaluation: string }[] }[] }>('/api/v1/rules');
      const rules = groups.flatMap((g) => g.rules);
      return rules.length === 8 && rules.every((r) => r.health === 'ok' && !r.lastEvaluation.startsWith('0001')) ? rules : undefined;
    }, 20_000, 'every rule evaluated, healthy');
    const psi = JSON.stringify(await prom.query('kscore_feature_drift_psi'));
    // 2 % of the events were dead letters: that alert is pending (it fires after 10 minutes). A
    // feature drifted: pending too. The service is up, caught up and has a production model.
    let seen: string[] = [];
    await eventually(async () => {
      const { alerts } = await prom.api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts');
      seen = alerts.map((a) => `${a.labels['alertname']}:${a.state}`).sort();
      return seen.includes('KscoreDeadLetterRateHigh:pending') && seen.includes('KscoreFeatureDrift:pending') ? true : undefined;
    }, 20_000, 'dead-letter and drift alerts pending').catch((err: unknown) => {
      throw new Error(`${String(err)}; active alerts: ${seen.join(', ')}; psi: ${psi}`);
    });
    const { alerts } = await prom.api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts');
    const active = alerts.map((a) => a.labels['alertname']);
    for (const quiet of ['KscoreDown', 'KscoreNoLiveModel', 'KscoreReplicaWithoutLiveModel', 'KscoreConsumerLagGrowing']) expect(active).not.toContain(quiet);
    const drifted = alerts.filter((a) => a.labels['alertname'] === 'KscoreFeatureDrift').map((a) => a.labels['feature']);
    expect(drifted).toEqual(['f0']);

    // Every query of the Grafana dashboard is valid and, but for the ones about what this
    // service does not have (a canary, replay jobs, schedules), finds data.
    const dashboard = JSON.parse(await readFile(GRAFANA_DASHBOARD, 'utf8')) as { panels: GrafanaPanel[] };
    const mayBeEmpty = new Set(['Canary share', 'Replay jobs', 'Schedules']);
    let checked = 0;
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        const result = await prom.query(expand(target.expr));
        checked++;
        if (!mayBeEmpty.has(panel.title)) expect(result.length, `${panel.title}: ${target.expr}`).toBeGreaterThan(0);
      }
    }
    expect(checked).toBeGreaterThan(15);
  });
});
