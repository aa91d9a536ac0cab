import type { Message } from 'kafkajs';
import type { Config } from '../../src/config/index.js';
import { RedisModelStore } from '../../src/registry/index.js';
import type { ReplayJobs } from '../../src/replay/jobs.js';
import { Scheduler, ScheduleStore, Schedules, type ScheduleMetrics, type Timer } from '../../src/schedule/index.js';
import { redisFor, testLog } from '../support/harness.js';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A clock the test moves by hand. */
export interface TestClock {
  now: () => number;
  set: (t: number) => void;
}

export function testClock(start: number): TestClock {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
}

/** Ticks only when the test calls `tick()`. */
const handTimer: Timer = { set: () => undefined, clear: () => undefined };

/** A long lease: the tests tick by hand and do not run the renewer. */
const LEASE_MS = 600_000;

export interface ScheduleParts {
  store: ScheduleStore;
  schedules: Schedules;
  audit: RedisModelStore;
  /** A replica's scheduler on the test's clock, with its own replay jobs. */
  scheduler: (jobs: ReplayJobs, owner: string, metrics?: ScheduleMetrics) => Scheduler;
}

/** The schedule API and schedulers of `config`, on `clock`; their Redis connection is closed at clean-up. */
export function scheduleParts(config: Config, clock: TestClock, cleanups: (() => Promise<void>)[]): ScheduleParts {
  const redis = redisFor(config);
  cleanups.push(async () => void (await redis.quit()));
  const store = new ScheduleStore(redis, config.redisKeyPrefix, LEASE_MS);
  const audit = new RedisModelStore(redis, config.redisKeyPrefix);
  const where = { featuresTopic: config.featuresTopic, deadLetterTopic: config.deadLetterTopic, outputDir: config.replayOutputDir };
  const schedules = new Schedules({ store, audit, defaultCatchUp: 'latest', where, now: clock.now });
  const scheduler = (jobs: ReplayJobs, owner: string, metrics?: ScheduleMetrics): Scheduler => {
    const s = new Scheduler(
      { store, replays: jobs, log: testLog, owner, ...(metrics ? { metrics } : {}) },
      { tickMs: 1000, leaseTtlMs: LEASE_MS, catchUp: 'latest', historyLimit: 100, where, now: clock.now, timer: handTimer },
    );
    cleanups.push(() => s.close());
    return s;
  };
  return { store, schedules, audit, scheduler };
}

/** Feature events with the given event times, spread over the partitions in time order. */
export function eventsAt(times: number[], partitions: number, first = 0): Message[] {
  return times.map((t, i) => ({
    partition: (first + i) % partitions,
    key: `k${first + i}`,
    timestamp: String(t),
    value: JSON.stringify({ f0: (i % 7) / 7, f1: 1, f2: 2, f3: 3 }),
  }));
}
