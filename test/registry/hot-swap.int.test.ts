import { describe, expect, it } from 'vitest';
import { logistic, type BuiltModel } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { syntheticFeatures } from '../../src/producer/load-generator.js';
import { RedisModelStore } from '../../src/registry/index.js';
import { eventually, listeningPort, runCli, type Child } from '../support/child.js';
import { collect, deleteTopics, envFor, header, produceEvents, redisFor, testConfig } from '../support/harness.js';
import { register } from '../support/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

async function metricsOf(port: number): Promise<string> {
  return fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
}

/** Predictions a replica has published (summed over its series). */
async function predictionsOf(port: number): Promise<number> {
  const lines = (await metricsOf(port)).split('\n').filter((l) => l.startsWith('kscore_predictions_total'));
  return lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

function referenceScore(model: BuiltModel, i: number, seed: number): number {
  const ev = syntheticFeatures(i, model.features, seed);
  const row = Float32Array.from(model.features.map((f) => ev[f]!));
  return Number(model.reference(row, 1)['score']![0]!);
}

describe('hot swap under load, two replicas in one consumer group', () => {
  it('switches both replicas after a promotion without a restart, loses nothing and attributes every prediction to the version that scored it', async () => {
    const config = testConfig({ topicPartitions: 4, modelRefreshMs: 5000, sessionTimeoutMs: 10_000 });
    cleanups.push(() => deleteTopics(config));
    const v1model = logistic(16, 101);
    const v2model = logistic(16, 202);
    await register(config, v1model, 'production');
    const v2 = await register(config, v2model);
    expect(v2.version).toBe('2');

    const replicas: Child[] = [1, 2].map(() => {
      const child = runCli(['serve'], { ...envFor(config), KSCORE_HTTP_PORT: '0', KSCORE_LOG_LEVEL: 'info' });
      cleanups.push(async () => {
        child.proc.kill('SIGTERM');
        await child.exited;
      });
      return child;
    });
    const ports = await Promise.all(replicas.map((r) => listeningPort(r)));
    for (const port of ports) {
      await eventually(async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined), 60_000, `replica on ${port} ready`);
    }

    const rate = 2000;
    const seconds = 30;
    const producing = produceEvents(config, { rate, durationMs: seconds * 1000, format: 'json', features: v1model.features, seed: 7 });

    // Promoted mid-stream, once each replica has scored its share on version 1.
    for (const port of ports) {
      await eventually(async () => ((await predictionsOf(port)) >= 1000 ? true : undefined), 60_000, `replica on ${port} to score on version 1`);
    }
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
    // How fast is a figure for bench/swap-latency.ts, not a pass/fail line on a shared machine.
    process.stderr.write(`hot swap: replicas switched ${switchMs.map((ms) => `${ms.toFixed(0)} ms`).join(' and ')} after the promotion\n`);

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
      expect(await predictionsOf(port)).toBeGreaterThan(0);
    }
  });
});
