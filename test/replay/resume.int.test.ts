import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/index.js';
import { logistic } from '../../src/modelgen/models.js';
import type { JsonlRecord } from '../../src/producer/jsonl-file-sink.js';
import { ReplayStore } from '../../src/replay/store.js';
import type { ReplayParamsInput, ReplayStatus } from '../../src/replay/types.js';
import { eventually, runCli, type Child } from '../support/child.js';
import { envFor, produceEvents, redisFor, testConfig } from '../support/harness.js';
import { backfillTopics, coordinates, count, dropKeys, dropTopics, openJobs, readExactly, register } from './helpers.js';
import { cleanupAfterEach, killAtCleanup } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

const track = (child: Child): Child => killAtCleanup(cleanups, child);

async function status(config: Config, id: string): Promise<ReplayStatus> {
  const redis = redisFor(config);
  try {
    return (await new ReplayStore(redis, config.redisKeyPrefix).get(id))!;
  } finally {
    await redis.quit();
  }
}

/** Starts `kscore replay --params FILE` and returns it with its job id, once it printed it. */
async function startReplay(config: Config, dir: string, params: ReplayParamsInput): Promise<{ child: Child; id: string }> {
  const file = join(dir, `params-${Date.now()}.json`);
  await writeFile(file, JSON.stringify(params));
  const child = track(runCli(['replay', '--params', file], { ...envFor(config), KSCORE_LOG_LEVEL: 'warn' }));
  const id = await eventually(() => /replay (\S+): /.exec(child.output())?.[1], 60_000, 'the replay to print its job id');
  return { child, id };
}

describe('resuming a replay killed with SIGKILL', () => {
  it('to a topic: no gap and no duplicate, even for records acknowledged after the last checkpoint', async () => {
    const config = testConfig();
    const dir = await mkdtemp(join(tmpdir(), 'kscore-resume-'));
    cleanups.push(() => dropTopics(config), () => dropKeys(config), () => rm(dir, { recursive: true, force: true }));
    const model = logistic(32, 2);
    await register(config, model);
    const N = 60_000;
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: model.features, badEvery: 500 });

    // No checkpoint after the first one, and no new mark: everything the killed run wrote was
    // acknowledged but never checkpointed, the window where a naive resume would write it twice.
    const { child, id } = await startReplay(config, dir, {
      tuning: { threads: 2, unitSize: 5000, checkpointIntervalMs: 600_000, markIntervalMs: 3_600_000 },
    });
    const out = backfillTopics(config);
    const written = await eventually(async () => {
      const n = (await count(config, out.predictions).catch(() => 0)) + (await count(config, out.deadLetters).catch(() => 0));
      return n >= 15_000 ? n : undefined;
    }, 90_000, 'the first run to write 15000 records');
    child.proc.kill('SIGKILL');
    await child.exited;
    expect(written).toBeLessThan(N);
    expect((await status(config, id)).state).toBe('running'); // as it was left: no one recorded the end
    // Once the dead process's lease expires, the job shows as interrupted.
    const jobs = await openJobs(config, cleanups);
    await eventually(async () => ((await jobs.get(id))!.state === 'interrupted' ? true : undefined), 30_000, 'the job to show as interrupted');

    const resumed = track(runCli(['replay', '--resume', id], { ...envFor(config), KSCORE_LOG_LEVEL: 'warn' }));
    expect(await resumed.exited, resumed.output()).toBe(0);
    const final = await status(config, id);
    expect(final.state).toBe('succeeded');
    expect(final.runs).toBe(2);
    // What the killed run wrote was found in the output and not written again.
    expect(final.progress.alreadyWritten).toBeGreaterThanOrEqual(written);

    const got = await readExactly(config, [out.predictions, out.deadLetters], N);
    expect(new Set(got.map(coordinates)).size).toBe(N);
    expect(got.filter((g) => g.topic === out.deadLetters)).toHaveLength(N / 500);
  });

  it('to a file, with checkpoints and marks as usual: the file holds every record once', async () => {
    const config = testConfig();
    const dir = await mkdtemp(join(tmpdir(), 'kscore-resume-'));
    cleanups.push(() => dropTopics(config), () => dropKeys(config), () => rm(dir, { recursive: true, force: true }));
    const model = logistic(32, 3);
    await register(config, model);
    const N = 60_000;
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: model.features });
    const path = join(dir, 'out.jsonl');

    const { child, id } = await startReplay(config, dir, {
      output: { kind: 'file', path },
      tuning: { threads: 2, unitSize: 5000, checkpointIntervalMs: 200, markIntervalMs: 1000 },
    });
    await eventually(async () => ((await status(config, id))?.progress.doneOffsets ?? 0) >= 20_000 || undefined, 90_000, 'a checkpoint past 20000 offsets');
    child.proc.kill('SIGKILL');
    await child.exited;

    const resumed = track(runCli(['replay', '--resume', id], { ...envFor(config), KSCORE_LOG_LEVEL: 'warn' }));
    expect(await resumed.exited, resumed.output()).toBe(0);
    expect((await status(config, id)).state).toBe('succeeded');

    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(N);
    const coords = new Set(lines.map((l) => JSON.parse(l) as JsonlRecord).map((r) => `${r.partition}/${r.offset}`));
    expect(coords.size).toBe(N);
  });

  it('cancelled from another process, then resumed: stops after its batches in flight and finishes exactly once', async () => {
    const config = testConfig();
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    const model = logistic(32, 4);
    await register(config, model);
    const N = 60_000;
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: model.features });
    const runner = await openJobs(config, cleanups);
    const other = await openJobs(config, cleanups);
    const id = await runner.start({ tuning: { threads: 2, unitSize: 5000, checkpointIntervalMs: 200, markIntervalMs: 1000 } });
    await eventually(async () => ((await runner.get(id))!.progress.doneOffsets >= 10_000 ? true : undefined), 60_000, 'some progress');
    // Asked through Redis: the process that runs it notices at its next checkpoint.
    expect((await other.cancel(id))!.state).toBe('running');
    const cancelled = (await runner.wait(id))!;
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.progress.doneOffsets).toBeLessThan(N);
    expect((await other.get(id))!.state).toBe('cancelled');

    await other.resume(id);
    const final = (await other.wait(id))!;
    expect(final.state).toBe('succeeded');
    expect(final.runs).toBe(2);
    const got = await readExactly(config, [backfillTopics(config).predictions], N);
    expect(new Set(got.map(coordinates)).size).toBe(N);
  });
});
