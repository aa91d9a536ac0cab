import { describe, expect, it } from 'vitest';
import { logistic, type BuiltModel } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/pipeline/types.js';
import { syntheticFeatures } from '../../src/producer/load-generator.js';
import { RedisModelStore } from '../../src/registry/index.js';
import { eventually, freePort, runCli, type Child } from '../support/child.js';
import { collect, deleteTopics, envFor, header, produceEvents, redisFor, testConfig } from '../support/harness.js';
import { register } from '../support/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

async function metricsOf(port: number): Promise<string> {
  return fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
}

function referenceScore(model: BuiltModel, i: number, seed: number): number {
  const ev = syntheticFeatures(i, model.features, seed);
  const row = Float32Array.from(model.features.map((f) => ev[f]!));
  return Number(model.reference(row, 1)['score']![0]!);
}

describe('hot swap under load, two replicas in one consumer group', () => {
  it('switches both replicas within 1 s of a promotion, loses nothing and attributes every prediction to the version that scored it', async () => {
    const config = testConfig({ topicPartitions: 4, modelRefreshMs: 5000, sessionTimeoutMs: 10_000 });
    cleanups.push(() => deleteTopics(config));
    const v1model = logistic(16, 101);
    const v2model = logistic(16, 202);
    await register(config, v1model, 'production');
    const v2 = await register(config, v2model);
    expect(v2.version).toBe('2');

    const ports = [await freePort(), await freePort()];
    const replicas: Child[] = ports.map((port) => {
      const child = runCli(['serve'], { ...envFor(config), KSCORE_HTTP_PORT: String(port) });
      cleanups.push(async () => {
        child.proc.kill('SIGTERM');
        await child.exited;
      });
      return child;
    });
    for (const port of ports) {
      await eventually(async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined), 60_000, `replica on ${port} ready`);
    }

    const rate = 2000;
    const seconds = 30;
    const producing = produceEvents(config, { rate, durationMs: seconds * 1000, format: 'json', features: v1model.features, seed: 7 });

    await new Promise((r) => setTimeout(r, 10_000));
    const redis = redisFor(config);
    const t0 = performance.now();
    await new RedisModelStore(redis, config.redisKeyPrefix).setAlias(config.modelName, 'production', '2', 'test');
    await redis.quit();
    const switchMs = await Promise.all(
      ports.map((port) =>
        eventually(async () => {
          const m = await metricsOf(port);
          return m.includes(`kscore_model_info{model="${config.modelName}",version="2",alias="production"} 1`) ? performance.now() - t0 : undefined;
        }, 10_000, `replica on ${port} to switch`),
      ),
    );
    process.stderr.write(`hot swap: replicas switched ${switchMs.map((ms) => `${ms.toFixed(0)} ms`).join(' and ')} after the promotion\n`);
    for (const ms of switchMs) expect(ms).toBeLessThan(1000);

    const sent = await producing;
    expect(sent).toBeGreaterThanOrEqual(rate * seconds * 0.95);
    const seen = new Set<string>();
    const got = await collect(config, [config.predictionsTopic, config.deadLetterTopic], (all) => {
      seen.add(all[all.length - 1]!.message.key!.toString());
      return seen.size >= sent;
    }, 120_000);
    expect(got.filter((g) => g.topic === config.deadLetterTopic)).toHaveLength(0);
    expect(seen.size).toBe(sent);

    // Per source partition, in offset order, the versions go 1...1 then 2...2: never back.
    const byPartition = new Map<string, { offset: number; version: string }[]>();
    let v1count = 0;
    let maxDiff = 0;
    for (const { message } of got) {
      const version = header(message, HEADERS.version)!;
      const p = header(message, HEADERS.sourcePartition)!;
      const list = byPartition.get(p) ?? [];
      list.push({ offset: Number(header(message, HEADERS.sourceOffset)), version });
      byPartition.set(p, list);
      if (version === '1') v1count++;
      // The score matches the version the header names: no misattribution.
      const i = Number(message.key!.toString().slice(1));
      const expected = referenceScore(version === '1' ? v1model : v2model, i, 7);
      maxDiff = Math.max(maxDiff, Math.abs((JSON.parse(message.value!.toString()) as { score: number }).score - expected));
    }
    expect(maxDiff).toBeLessThan(1e-6);
    expect(v1count).toBeGreaterThan(0);
    expect(v1count).toBeLessThan(got.length);
    for (const list of byPartition.values()) {
      list.sort((a, b) => a.offset - b.offset);
      const firstV2 = list.findIndex((x) => x.version === '2');
      if (firstV2 >= 0) expect(list.slice(firstV2).every((x) => x.version === '2')).toBe(true);
    }
    // Both replicas did part of the work.
    for (const port of ports) {
      const m = await metricsOf(port);
      expect(Number(/kscore_predictions_total (\d+)/.exec(m)?.[1] ?? 0)).toBeGreaterThan(0);
    }
  });
});
