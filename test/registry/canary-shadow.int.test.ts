import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { RedisModelStore } from '../../src/registry/index.js';
import { eventually } from '../support/child.js';
import { collect, header, produceEvents, redisFor, testConfig } from '../support/harness.js';
import { register, startService } from '../support/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

describe('canary split and shadow scoring', () => {
  it('sends a stable, deterministic share of keys to the canary, within 2 points on 10,000 keys', async () => {
    const config = testConfig({ modelRefreshMs: 60_000 });
    const m = logistic(8, 1);
    await register(config, m, 'production');
    await register(config, logistic(8, 2), 'canary');
    const redis = redisFor(config);
    await new RedisModelStore(redis, config.redisKeyPrefix).setSplit(config.modelName, { alias: 'canary', share: 0.2 }, 'test');
    await redis.quit();
    const { service } = await startService(config, cleanups);
    await eventually(() => (service.models.currentPlan()?.canary?.model.version === '2' ? true : undefined), 5000, 'canary loaded');

    const N = 10_000;
    // The same 10,000 keys twice, with different feature values.
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: m.features, seed: 1, keyPrefix: 'user-' });
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: m.features, seed: 2, keyPrefix: 'user-' });
    const got = await collect(config, [config.predictionsTopic], (all) => all.length >= 2 * N, 120_000);
    expect(got).toHaveLength(2 * N);

    const versionOf = new Map<string, string>();
    let unstable = 0;
    for (const { message } of got) {
      const key = message.key!.toString();
      const v = header(message, HEADERS.version)!;
      const before = versionOf.get(key);
      if (before !== undefined && before !== v) unstable++;
      versionOf.set(key, v);
    }
    expect(versionOf.size).toBe(N);
    expect(unstable).toBe(0);
    const share = [...versionOf.values()].filter((v) => v === '2').length / N;
    process.stderr.write(`canary: ${(share * 100).toFixed(2)} % of 10,000 keys on the canary (configured 20 %)\n`);
    expect(Math.abs(share - 0.2)).toBeLessThanOrEqual(0.02);
  });

  it('scores a shadow version into the shadow topic without touching the primary output, and counts agreement', async () => {
    const config = testConfig({ modelRefreshMs: 60_000 });
    const m = logistic(8, 1);
    await register(config, m, 'production');
    await register(config, logistic(8, 1), 'shadow'); // same weights: agrees on every event
    const { service, url } = await startService(config, cleanups);
    await eventually(() => (service.models.currentPlan()?.shadow?.version === '2' ? true : undefined), 5000, 'shadow loaded');

    const N = 500;
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: m.features, badEvery: 50 });
    const shadowTopic = `${config.predictionsTopic}.shadow`;
    const got = await collect(config, [config.predictionsTopic, shadowTopic, config.deadLetterTopic], (all) => all.length >= 2 * N - 10, 60_000);
    const primary = got.filter((g) => g.topic === config.predictionsTopic);
    const shadow = got.filter((g) => g.topic === shadowTopic);
    expect(primary).toHaveLength(N - 10);
    expect(shadow).toHaveLength(N - 10);
    expect(primary.every((g) => header(g.message, HEADERS.version) === '1')).toBe(true);
    expect(shadow.every((g) => header(g.message, HEADERS.version) === '2')).toBe(true);
    const scores = new Map(primary.map((g) => [g.message.key!.toString(), (JSON.parse(g.message.value!.toString()) as { score: number }).score]));
    for (const g of shadow) {
      expect((JSON.parse(g.message.value!.toString()) as { score: number }).score).toBe(scores.get(g.message.key!.toString()));
    }
    const metrics = await fetch(`${url}/metrics`).then((r) => r.text());
    expect(metrics).toContain(`kscore_shadow_comparisons_total{outcome="agree",model="${config.modelName}"} ${N - 10}`);
    expect(metrics).not.toContain('outcome="disagree"');
  });
});
