import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/index.js';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { RedisModelStore, registerModel } from '../../src/registry/index.js';
import { eventually, listeningPort, runCli, type Child } from '../support/child.js';
import { collect, deleteTopics, envFor, header, produceEvents, redisFor, testConfig } from '../support/harness.js';
import { cleanupAfterEach, killAtCleanup } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

const track = (child: Child): Child => killAtCleanup(cleanups, child);

async function readyz(port: number): Promise<{ status: number; body: { ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> } }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
}

/** Counts reads of a model's aliases hash (`<prefix>model:<name>:aliases`) from now on, as Redis MONITOR reports them. */
async function countAliasReads(config: Config): Promise<{ count: () => number; stop: () => Promise<void> }> {
  const key = `${config.redisKeyPrefix}model:${config.modelName}:aliases`;
  const redis = redisFor(config);
  const monitor = await redis.monitor();
  let reads = 0;
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'hgetall' && args[1] === key) reads += 1;
  });
  return {
    count: () => reads,
    stop: async () => {
      monitor.disconnect();
      await redis.quit();
    },
  };
}

describe('crashes and failures', () => {
  it('loses no event when the service is killed with SIGKILL mid-stream and started again', async () => {
    // A short session timeout lets the restarted member take the dead one's partitions sooner.
    const config = testConfig({ maxBatchSize: 256, sessionTimeoutMs: 6000 });
    cleanups.push(() => deleteTopics(config));
    const model = logistic(32, 2);
    const redis = redisFor(config);
    await registerModel(new RedisModelStore(redis, config.redisKeyPrefix), config.modelName, { bytes: Buffer.from(model.bytes), features: model.features }, { alias: 'production' });
    await redis.quit();

    const env = { ...envFor(config), KSCORE_HTTP_PORT: '0', KSCORE_LOG_LEVEL: 'info' };
    const first = track(runCli(['serve'], env));
    const port = await listeningPort(first);
    await eventually(async () => ((await readyz(port)).body.ready ? true : undefined), 60_000, 'the first service to be ready');

    const N = 30_000;
    const producing = produceEvents(config, { rate: 5000, count: N, format: 'json', features: model.features });
    // Kill it once it has published part of the stream.
    const before = await collect(config, [config.predictionsTopic], (all) => all.length >= 10_000, 30_000);
    expect(before.length).toBeGreaterThanOrEqual(10_000);
    const t0 = Date.now();
    first.proc.kill('SIGKILL');
    await first.exited;

    const second = track(runCli(['serve'], env));
    await producing;
    const seen = new Set<string>();
    const got = await collect(
      config,
      [config.predictionsTopic],
      (all) => seen.add(all[all.length - 1]!.message.key!.toString()).size >= N,
      90_000,
    );
    const recoveredMs = Date.now() - t0;
    const keys = new Set(got.map((g) => g.message.key!.toString()));
    const duplicates = got.length - keys.size;
    process.stderr.write(`SIGKILL test: ${N} events, ${got.length} predictions, ${duplicates} duplicates (at-least-once), all scored ${recoveredMs} ms after the kill\n`);
    expect(keys.size).toBe(N);
    // Every prediction still maps to a distinct source offset apart from the replayed ones.
    const coords = new Set(got.map((g) => `${header(g.message, HEADERS.sourcePartition)}/${header(g.message, HEADERS.sourceOffset)}`));
    expect(coords.size).toBe(N);
    if (process.env["DEBUG_CHILD"]) process.stderr.write(second.output());
    second.proc.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  });

  it('reports a model that cannot load on /readyz, keeps running, and serves once a good version is promoted', async () => {
    const config = testConfig({ modelRefreshMs: 200 });
    cleanups.push(() => deleteTopics(config));
    const model = logistic(4, 3);
    const redis = redisFor(config);
    const store = new RedisModelStore(redis, config.redisKeyPrefix);
    // A version whose bytes are not an ONNX model, written past validation (as a corrupted store would).
    const bad = await store.addVersion(
      config.modelName,
      { bytes: Buffer.from('not an onnx model'), features: model.features, outputs: { score: 'score' } },
      'test',
    );
    await store.setAlias(config.modelName, 'production', bad.version, 'test');

    const child = track(runCli(['serve'], { ...envFor(config), KSCORE_HTTP_PORT: '0', KSCORE_LOG_LEVEL: 'info', KSCORE_MODEL_REFRESH_MS: '200' }));
    const port = await listeningPort(child);
    const notReady = await eventually(async () => {
      const r = await readyz(port);
      return r.body.checks['model']?.detail?.includes('cannot serve') ? r : undefined;
    }, 60_000, 'readyz to report the broken model');
    expect(notReady.status).toBe(503);
    expect(notReady.body.ready).toBe(false);
    expect(notReady.body.checks['model']?.detail).toMatch(/onnxruntime cannot load the model/);

    // Still alive five refreshes later (each reads the model's aliases; Redis MONITOR counts them): no crash loop.
    const refreshes = await countAliasReads(config);
    cleanups.push(refreshes.stop);
    await eventually(() => (refreshes.count() >= 5 ? true : undefined), 30_000, 'five more model refreshes');
    expect(child.proc.exitCode).toBeNull();
    expect((child.output().match(/model load failed/g) ?? []).length).toBe(1);

    const good = await registerModel(store, config.modelName, { bytes: Buffer.from(model.bytes), features: model.features }, { alias: 'production' });
    await redis.quit();
    await eventually(async () => ((await readyz(port)).body.ready ? true : undefined), 60_000, 'readiness after promotion');
    await produceEvents(config, { rate: 0, count: 50, format: 'json', features: model.features });
    const got = await collect(config, [config.predictionsTopic], (all) => all.length >= 50);
    expect(got.length).toBe(50);
    expect(got.every((g) => header(g.message, HEADERS.version) === good.version)).toBe(true);
  });

  it('refuses to start on a bad setting, naming it', async () => {
    const child = runCli(['serve'], { KSCORE_MAX_BATCH_SIZE: 'lots', KSCORE_HTTP_PORT: '99999' });
    expect(await child.exited).toBe(2);
    expect(child.output()).toContain('KSCORE_MAX_BATCH_SIZE ("lots")');
    expect(child.output()).toContain('KSCORE_HTTP_PORT ("99999")');
    const typo = runCli(['serve'], { KSCORE_MAX_BACTH_SIZE: '5' });
    expect(await typo.exited).toBe(2);
    expect(typo.output()).toContain('unknown setting KSCORE_MAX_BACTH_SIZE');
  });

  it('refuses to start, naming them, when its topics do not exist and it may not create them', async () => {
    const config = testConfig({ createTopics: false });
    const child = runCli(['serve'], { ...envFor(config), KSCORE_LOG_LEVEL: 'warn' });
    expect(await child.exited, child.output()).toBe(2);
    expect(child.output()).toContain(`topics ${config.featuresTopic}, ${config.predictionsTopic}, ${config.deadLetterTopic} do not exist`);
    expect(child.output()).toContain('KSCORE_CREATE_TOPICS');
  });
});
