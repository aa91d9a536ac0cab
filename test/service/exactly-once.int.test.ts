import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { eventually, runCli, type Child } from '../support/child.js';
import { cleanupAfterEach, killAtCleanup } from '../support/cleanup.js';
import { collect, deleteTopics, envFor, header, kafkaFor, produceEvents, testConfig, uniqueId } from '../support/harness.js';
import { register } from '../support/service.js';

const cleanups = cleanupAfterEach();

describe('exactly-once delivery', () => {
  it('gives a read_committed reader every event exactly once, though the service is killed with SIGKILL again and again', async () => {
    const config = testConfig({ delivery: 'exactly-once', transactionalId: `t-eos-${uniqueId()}`, sessionTimeoutMs: 6000, maxBatchSize: 256 });
    cleanups.push(() => deleteTopics(config));
    const model = logistic(16, 4);
    await register(config, model, 'production');
    const env = { ...envFor(config), KSCORE_HTTP_PORT: '0', KSCORE_LOG_LEVEL: process.env['DEBUG_CHILD'] ? 'info' : 'warn' };
    const serve = (): Child => killAtCleanup(cleanups, runCli(['serve'], env));

    const N = 24_000;
    const producing = produceEvents(config, { rate: 3000, count: N, format: 'json', features: model.features, badEvery: 300 });
    // Killed three times, the k-th once the group has committed k quarters of the events (so each
    // new process has work left to do, however fast the one before went), then left to finish.
    const admin = kafkaFor(config).admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const committed = async (): Promise<number> => {
      const [offsets] = await admin.fetchOffsets({ groupId: config.groupId, topics: [config.featuresTopic] });
      return offsets!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    };
    let child = serve();
    for (let kill = 1; kill <= 3; kill++) {
      await eventually(async () => ((await committed()) >= (kill * N) / 4 ? true : undefined), 90_000, `${(kill * N) / 4} events committed before kill ${kill}`).catch((err: unknown) => {
        process.stderr.write(`exactly-once: the service's log before kill ${kill}:\n${child.output().slice(-20_000)}\n`);
        throw err;
      });
      child.proc.kill('SIGKILL');
      await child.exited;
      child = serve();
    }
    await producing;

    // kafkajs' consumer reads committed records only (read_committed).
    const got = await collect(config, [config.predictionsTopic, config.deadLetterTopic], (all) => all.length >= N, 120_000);
    const coords = got.map((g) => `${header(g.message, HEADERS.sourcePartition)}/${header(g.message, HEADERS.sourceOffset)}`);
    const distinct = new Set(coords);
    process.stderr.write(`exactly-once: ${N} events, ${got.length} outputs read committed, ${coords.length - distinct.size} duplicates, after 3 SIGKILLs\n`);
    expect(distinct.size).toBe(N);
    expect(got.length).toBe(N); // no duplicate
    expect(got.filter((g) => g.topic === config.deadLetterTopic)).toHaveLength(N / 300);
    // The group's offsets went with the outputs: they reach the end of the features topic.
    await eventually(async () => {
      const ends = await admin.fetchTopicOffsets(config.featuresTopic);
      const [offsets] = await admin.fetchOffsets({ groupId: config.groupId, topics: [config.featuresTopic] });
      const at = new Map(offsets!.partitions.map((p) => [p.partition, p.offset]));
      return ends.every((e) => at.get(e.partition) === e.high) ? true : undefined;
    }, 30_000, 'the committed offsets to reach the end');
  });
});
