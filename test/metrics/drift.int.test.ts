import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { syntheticFeatures } from '../../src/producer/load-generator.js';
import { RedisModelStore, registerModel } from '../../src/registry/index.js';
import { eventually } from '../support/child.js';
import { collect, produceEvents, redisFor, sendEvents, testConfig } from '../support/harness.js';
import { startService } from '../support/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

function gauge(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('input drift and end-to-end latency metrics', () => {
  it('shows PSI near 0 for inputs like the training data and above 0.2 for a shifted feature; times every event', async () => {
    const config = testConfig({ driftWindow: 2000 });
    const model = logistic(4, 1);
    // Training data: uniform on [-1, 1), so deciles at -0.8 ... 0.8 with 10 % in each bin.
    const edges = [-0.8, -0.6, -0.4, -0.2, 0, 0.2, 0.4, 0.6, 0.8];
    const shares = Array.from({ length: 10 }, () => 0.1);
    const redis = redisFor(config);
    await registerModel(
      new RedisModelStore(redis, config.redisKeyPrefix),
      config.modelName,
      { bytes: Buffer.from(model.bytes), features: model.features, baseline: Object.fromEntries(model.features.map((f) => [f, { edges, shares }])) },
      { alias: 'production' },
    );
    await redis.quit();
    const { url } = await startService(config, cleanups);

    await produceEvents(config, { rate: 0, count: 2000, format: 'json', features: model.features });
    await collect(config, [config.predictionsTopic], (all) => all.length >= 2000);
    const label = (f: string) => `model="${config.modelName}",version="1",feature="${f}"`;
    const stable = await fetch(`${url}/metrics`).then((r) => r.text());
    for (const f of model.features) expect(gauge(stable, 'kscore_feature_drift_psi', label(f))!).toBeLessThan(0.05);

    // 2,000 more events whose f0 only takes values in [0.5, 1): the window now holds only these.
    await sendEvents(
      config,
      Array.from({ length: 2000 }, (_, i) => {
        const ev = syntheticFeatures(10_000 + i, model.features, 3);
        ev['f0'] = 0.75 + ev['f0']! / 4;
        return { key: `s${i}`, value: ev };
      }),
    );

    const shifted = await eventually(async () => {
      const text = await fetch(`${url}/metrics`).then((r) => r.text());
      return text.includes(`kscore_end_to_end_seconds_count{model="${config.modelName}"} 4000`) ? text : undefined;
    }, 30_000, 'all 4000 events timed');
    const psiF0 = gauge(shifted, 'kscore_feature_drift_psi', label('f0'))!;
    process.stderr.write(`drift: PSI of the shifted feature ${psiF0.toFixed(3)}\n`);
    expect(psiF0).toBeGreaterThan(0.2);
    for (const f of model.features.slice(1)) expect(gauge(shifted, 'kscore_feature_drift_psi', label(f))!).toBeLessThan(0.05);
    expect(shifted).toMatch(/kscore_events_scored_total\{model="[^"]+",version="1"\} 4000/);
  });
});
