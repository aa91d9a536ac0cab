import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { eventually, runCli, type Child } from '../support/child.js';
import { cleanupAfterEach, killAtCleanup } from '../support/cleanup.js';
import { envFor, produceEvents, testConfig, uniqueId } from '../support/harness.js';
import { coordinates, count, dropKeys, dropTopics, readExactly, register } from './helpers.js';

const cleanups = cleanupAfterEach();

describe('a replay sharded over several processes', () => {
  it('scores every record once with N processes, one of them killed and run again', async () => {
    const config = testConfig({ topicPartitions: 4 });
    const out = `${config.predictionsTopic}.backfill`;
    const dlq = `${config.deadLetterTopic}.backfill`;
    cleanups.push(() => dropTopics(config, [out, dlq]), () => dropKeys(config));
    const model = logistic(16, 3);
    await register(config, model);
    const N = 40_000;
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: model.features, badEvery: 400 });

    const job = `sharded-${uniqueId()}`;
    const args = (i: number): string[] => ['replay', '--job-id', job, '--shard', `${i}/3`, '--output-topic', out, '--dead-letter-topic', dlq, '--threads', '1', '--unit-size', '2000', '--json'];
    const env = { ...envFor(config), KSCORE_LOG_LEVEL: 'warn' };
    const shard = (i: number): Child => killAtCleanup(cleanups, runCli(args(i), env));
    const shards = [shard(0), shard(1), shard(2)];

    // Shard 1 is killed mid-run, then started again as its pod would be: it resumes its part.
    await eventually(async () => ((await count(config, out).catch(() => 0)) >= 5000 ? true : undefined), 120_000, 'the shards to write');
    shards[1]!.proc.kill('SIGKILL');
    await shards[1]!.exited;
    const again = killAtCleanup(cleanups, runCli(args(1), env));
    for (const c of [shards[0]!, shards[2]!, again]) expect(await c.exited, c.output()).toBe(0);

    const written = await readExactly(config, [out, dlq], N);
    const coords = new Set(written.map(coordinates));
    expect(coords.size).toBe(N); // every record once: none lost, none written twice
    expect(written.filter((w) => w.topic === dlq)).toHaveLength(N / 400);

    // The job's status adds its shards up.
    const status = runCli(['replay', 'status', job], env);
    expect(await status.exited, status.output()).toBe(0);
    const s = JSON.parse(status.output()) as { state: string; shards: number; progress: { doneOffsets: number; predictions: number; deadLetters: number; alreadyWritten: number } };
    expect(s).toMatchObject({ state: 'succeeded', shards: 3, progress: { doneOffsets: N } });
    // What the killed shard wrote after its last checkpoint its resume found in the output: not written twice, counted once.
    expect(s.progress.predictions + s.progress.deadLetters + s.progress.alreadyWritten).toBe(N);

    // Run again after the end, a shard has nothing left to do; with other parameters it is refused.
    const late = runCli(args(2), env);
    expect(await late.exited).toBe(0);
    expect(await count(config, out)).toBe(N - N / 400);
    const other = runCli(['replay', '--job-id', job, '--shard', '0/3', '--output-topic', `${out}-x`], env);
    expect(await other.exited).toBe(2);
    expect(other.output()).toContain('exists with other parameters');
  });
});
