import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { ScheduleMetrics } from '../../src/schedule/index.js';
import { cleanupAfterEach } from '../support/cleanup.js';
import { testConfig } from '../support/harness.js';
import { addUnloadableVersion } from '../support/service.js';
import { dropKeys, dropTopics, openJobs, produce, register } from '../replay/helpers.js';
import { HOUR, eventsAt, scheduleParts, testClock } from './helpers.js';

const cleanups = cleanupAfterEach();
const T0 = Date.UTC(2026, 10, 20);

describe('a scheduled run that fails, against real Kafka and Redis', () => {
  it('is retried per its policy (resuming the same job), then counted as failed; firings missed meanwhile are caught up once', async () => {
    const config = testConfig({ topicPartitions: 2 });
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    const model = logistic(4, 6);
    await register(config, model);
    await produce(config, config.featuresTopic, eventsAt(Array.from({ length: 20 }, (_, i) => T0 + i * 60_000), 2));
    // A version written past validation, as a corrupted store would hold it: every attempt fails.
    const bad = await addUnloadableVersion(config, model.features);

    const clock = testClock(T0 + 1000);
    const parts = scheduleParts(config, clock, cleanups);
    const registry = new Registry();
    const scheduler = parts.scheduler(await openJobs(config, cleanups), 'replica-a', new ScheduleMetrics(registry));
    const id = `failing-${config.redisKeyPrefix.slice(2, -1)}`;
    await parts.schedules.create(
      { id, cron: '0 * * * *', range: { kind: 'last-hours', hours: 1 }, replay: { model: { version: bad.version }, tuning: { threads: 1 } }, retry: { attempts: 2, delayMs: 60_000 } },
      'tester',
    );
    const at = async (t: number): Promise<void> => {
      clock.set(t);
      await scheduler.tick();
      await scheduler.idle();
    };

    // The first attempt fails: the run waits a minute for its retry, and is not retried before.
    await at(T0 + HOUR + 1000);
    await at(T0 + HOUR + 30_000);
    const [waiting] = await parts.store.runs(id, 1);
    expect(waiting).toMatchObject({ state: 'retrying', attempts: 1, failures: 1, nextAttemptAt: T0 + HOUR + 61_000 });
    expect(waiting!.error).toMatch(/onnxruntime cannot load the model/);

    // The retry resumes the same job; it fails too, and that was the last attempt.
    await at(T0 + HOUR + 61_000);
    const [failed] = await parts.store.runs(id, 1);
    expect(failed).toMatchObject({ state: 'failed', attempts: 2, failures: 2, jobId: waiting!.jobId });
    await scheduler.tick();
    const text = await registry.metrics();
    expect(text).toContain(`kscore_schedule_runs_total{schedule="${id}",outcome="failed"} 1`);
    expect(text).toContain(`kscore_schedule_run_failures_total{schedule="${id}"} 2`);
    expect(text).toContain(`kscore_schedule_last_run_outcome{schedule="${id}",outcome="failed"} 1`);
    expect((await parts.schedules.get(id))!.lastRun).toMatchObject({ state: 'failed' });

    // No replica ran from 02:00 to past 04:00: with catch-up "latest" only 04:00 runs, 02:00 and
    // 03:00 are recorded as skipped. Its hour [03:00, 04:00) holds no event: done without loading
    // the model, a success, and the last outcome is no longer "failed".
    await at(T0 + 4 * HOUR + 5 * 60_000);
    const runs = await parts.store.runs(id);
    expect(runs.map((r) => [new Date(r.firing).toISOString().slice(11, 16), r.state])).toEqual([
      ['04:00', 'succeeded'],
      ['02:00', 'skipped'],
      ['01:00', 'failed'],
    ]);
    expect(runs[1]!.skipped).toMatchObject({ until: T0 + 3 * HOUR, count: 2 });
    expect(runs[0]!.counts).toMatchObject({ offsets: 0 });
    await scheduler.tick();
    const after = await registry.metrics();
    expect(after).toContain(`kscore_schedule_last_run_outcome{schedule="${id}",outcome="failed"} 0`);
    expect(after).toContain(`kscore_schedule_runs_total{schedule="${id}",outcome="skipped"} 2`);
  });
});
