import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import type { ScheduleRun } from '../../src/schedule/index.js';
import { eventually } from '../support/child.js';
import { cleanupAfterEach } from '../support/cleanup.js';
import { header, testConfig } from '../support/harness.js';
import { coordinates, dropKeys, dropTopics, ends, openJobs, produce, readExactly, register } from '../replay/helpers.js';
import { DAY, HOUR, eventsAt, scheduleParts, testClock } from './helpers.js';

const cleanups = cleanupAfterEach();

/** Midnight UTC, the first simulated day. */
const T0 = Date.UTC(2026, 10, 20);

/** Each partition's [start, end) of a run, by partition. */
function spans(run: ScheduleRun): Map<number, [number, number]> {
  return new Map(run.range!.partitions.map((p) => [p.partition, [p.start, p.end]]));
}

/** Consecutive runs (oldest first) meet exactly: each one starts on every partition where the one before ended. */
function expectNoGapNoOverlap(runs: ScheduleRun[]): void {
  for (let i = 1; i < runs.length; i++) {
    const before = spans(runs[i - 1]!);
    for (const [p, [start]] of spans(runs[i]!)) expect(start, `partition ${p}, run ${i}`).toBe(before.get(p)![1]);
  }
}

describe('scheduled replays on a controlled clock, against real Kafka and Redis', () => {
  it('a daily schedule runs once a day for three days, each run scoring the previous day, with no gap or overlap', async () => {
    const config = testConfig({ topicPartitions: 2 });
    const out = (day: number): string => `${config.predictionsTopic}.daily-${new Date(T0 + day * DAY).toISOString().slice(0, 10)}`;
    cleanups.push(() => dropTopics(config, [0, 1, 2].map(out)), () => dropKeys(config));
    await register(config, logistic(4, 3));
    // Four days of events, 40 a day at 36-minute steps: the fourth is not scored by the three runs.
    const perDay = 40;
    const times = Array.from({ length: 4 * perDay }, (_, i) => T0 + Math.floor(i / perDay) * DAY + (i % perDay) * 36 * 60_000);
    await produce(config, config.featuresTopic, eventsAt(times, 2));

    const clock = testClock(T0 + DAY + HOUR);
    const parts = scheduleParts(config, clock, cleanups);
    const jobs = await openJobs(config, cleanups);
    const scheduler = parts.scheduler(jobs, 'replica-a');
    const id = `nightly-${config.redisKeyPrefix.slice(2, -1)}`;
    await parts.schedules.create(
      {
        id,
        cron: '0 2 * * *',
        timeZone: 'UTC',
        range: { kind: 'previous-day' },
        replay: { output: { kind: 'topic', topic: `${config.predictionsTopic}.daily-{date}` }, tuning: { threads: 1 } },
      },
      'tester',
    );

    for (const day of [1, 2, 3]) {
      // Before the firing nothing runs; at it one run; later ticks the same day add none.
      clock.set(T0 + day * DAY + 2 * HOUR - 1000);
      await scheduler.tick();
      expect(await parts.store.runs(id)).toHaveLength(day - 1);
      for (const later of [5000, HOUR]) {
        clock.set(T0 + day * DAY + 2 * HOUR + later);
        await scheduler.tick();
        await scheduler.idle();
      }
      const [run] = await parts.store.runs(id, 1);
      expect(run, JSON.stringify(run)).toMatchObject({ state: 'succeeded', trigger: 'cron', firing: T0 + day * DAY + 2 * HOUR, output: out(day - 1) });
      expect(run!.range).toMatchObject({ fromTime: T0 + (day - 1) * DAY, toTime: T0 + day * DAY });
      expect(run!.counts).toMatchObject({ offsets: perDay, predictions: perDay, deadLetters: 0 });
    }

    const runs = (await parts.store.runs(id)).reverse();
    expect(runs.map((r) => r.firing)).toEqual([1, 2, 3].map((d) => T0 + d * DAY + 2 * HOUR));
    expectNoGapNoOverlap(runs);
    // Each day's topic holds that day's events, once each, marked with the run's job.
    for (const [i, run] of runs.entries()) {
      const got = await readExactly(config, [out(i)], perDay);
      expect(got.every((g) => Number(g.message.timestamp) >= T0 + i * DAY && Number(g.message.timestamp) < T0 + (i + 1) * DAY)).toBe(true);
      expect(new Set(got.map(coordinates)).size).toBe(perDay);
      expect(got.every((g) => header(g.message, HEADERS.replayJob) === run.jobId)).toBe(true);
    }
    const view = await parts.schedules.get(id);
    expect(view).toMatchObject({ paused: false, nextRunAt: new Date(T0 + 4 * DAY + 2 * HOUR).toISOString(), lastRun: { state: 'succeeded' } });
    expect((await parts.audit.audit({ schedule: id }))[0]).toMatchObject({ action: 'schedule-create', actor: 'tester' });
  });

  it('"since the previous run" starts where the last run ended while events keep arriving', async () => {
    const config = testConfig({ topicPartitions: 3 });
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    await register(config, logistic(4, 4));
    await produce(config, config.featuresTopic, eventsAt(Array.from({ length: 300 }, (_, i) => T0 + i), 3));

    // Events keep coming while the runs go on.
    let sent = 300;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        await produce(config, config.featuresTopic, eventsAt(Array.from({ length: 50 }, (_, i) => T0 + sent + i), 3, sent));
        sent += 50;
      }
    })();

    const clock = testClock(T0 + 1000); // just after the firing at T0, which is not due
    const parts = scheduleParts(config, clock, cleanups);
    const jobs = await openJobs(config, cleanups);
    const scheduler = parts.scheduler(jobs, 'replica-a');
    const id = `hourly-${config.redisKeyPrefix.slice(2, -1)}`;
    await parts.schedules.create({ id, cron: '0 * * * *', range: { kind: 'since-previous-run' }, replay: { tuning: { threads: 1 } } }, 'tester');
    const fire = async (hour: number): Promise<void> => {
      clock.set(T0 + hour * HOUR + 1000);
      await scheduler.tick();
      await scheduler.idle();
    };
    for (const hour of [1, 2, 3]) {
      await fire(hour);
      // The next run sees new events: wait until some have arrived after this run's end.
      const last = (await parts.store.runs(id, 1))[0]!;
      const ended = [...spans(last).values()].reduce((s, [, e]) => s + e, 0);
      await eventually(() => (sent > ended + 50 ? true : undefined), 60_000, 'events after the run');
    }
    producing = false;
    await producer;
    await fire(4);

    const runs = (await parts.store.runs(id)).reverse();
    expect(runs.map((r) => r.state)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(runs.every((r) => r.counts!.offsets > 0)).toBe(true);
    expect(spans(runs[0]!).get(0)![0]).toBe(0);
    expectNoGapNoOverlap(runs);
    // The last run ended at the log's end: together the runs scored every event once.
    const high = await ends(config, config.featuresTopic);
    for (const [p, [, end]] of spans(runs[3]!)) expect(end).toBe(high.get(p));
    const total = runs.reduce((s, r) => s + r.counts!.offsets, 0);
    expect(total).toBe(sent);
    const got = await readExactly(config, [`${config.predictionsTopic}.backfill`], sent);
    expect(new Set(got.map(coordinates)).size).toBe(sent);
  });

  it('two replicas ticking at the same firings: one run per firing', async () => {
    const config = testConfig({ topicPartitions: 2 });
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    await register(config, logistic(4, 5));
    await produce(config, config.featuresTopic, eventsAt(Array.from({ length: 3 * 60 }, (_, i) => T0 + i * 60_000), 2));

    const clock = testClock(T0 + 1000); // just after the firing at T0, which is not due
    const parts = scheduleParts(config, clock, cleanups);
    const replicas = [parts.scheduler(await openJobs(config, cleanups), 'replica-a'), parts.scheduler(await openJobs(config, cleanups), 'replica-b')];
    const id = `hourly-${config.redisKeyPrefix.slice(2, -1)}`;
    await parts.schedules.create({ id, cron: '0 * * * *', range: { kind: 'previous-hour' }, replay: { tuning: { threads: 1 } } }, 'tester');

    for (const hour of [1, 2, 3]) {
      for (const later of [1000, 2000]) {
        clock.set(T0 + hour * HOUR + later);
        await Promise.all(replicas.map((r) => r.tick()));
        await Promise.all(replicas.map((r) => r.idle()));
      }
    }
    const runs = (await parts.store.runs(id)).reverse();
    expect(runs.map((r) => [r.firing, r.state])).toEqual([1, 2, 3].map((h) => [T0 + h * HOUR, 'succeeded']));
    expect(runs.every((r) => r.attempts === 1 && r.counts!.offsets === 60)).toBe(true);
    expectNoGapNoOverlap(runs);
    // Each firing's job was started once, by one replica: 180 predictions, each event once.
    const got = await readExactly(config, [`${config.predictionsTopic}.backfill`], 180);
    expect(new Set(got.map(coordinates)).size).toBe(180);
    expect(new Set(got.map((g) => header(g.message, HEADERS.replayJob)))).toEqual(new Set(runs.map((r) => r.jobId)));
  });
});
