import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { routeOfModel, routeTable } from '../config/routes.js';
import type { AuditLog } from '../registry/index.js';
import type { ScheduleMetrics } from './metrics.js';
import type { ReplayPort } from './runner.js';
import { Scheduler } from './scheduler.js';
import type { RunWhere } from './params.js';
import { Schedules } from './schedules.js';
import { ScheduleStore, type ScheduleRedis } from './store.js';

export { ScheduleMetrics, type ScheduleSnapshot } from './metrics.js';
export { ScheduleParamsError, parseSchedule, runParams } from './params.js';
export { Scheduler, type SchedulerOptions, type Timer } from './scheduler.js';
export { Schedules, type ScheduleView } from './schedules.js';
export { ScheduleStore, type ScheduleRedis } from './store.js';
export type { ReplayPort } from './runner.js';
export type { CatchUpPolicy, ScheduleDefinition, ScheduleInput, ScheduleRun, StoredSchedule } from './types.js';

/** A firing's lease: three ticks and 5 s, so that a replica busy for a tick or two keeps it. */
export function leaseTtlFor(config: Pick<Config, 'scheduleTickMs'>): number {
  return 3 * config.scheduleTickMs + 5000;
}

/** Where a run's names and files go, from the configuration (with a routing table, its model's route). */
function whereFor(config: Config): RunWhere {
  const where = { featuresTopic: config.featuresTopic, deadLetterTopic: config.deadLetterTopic, outputDir: config.replayOutputDir };
  if (config.routes === undefined) return where;
  const table = routeTable(config);
  return { ...where, routeOf: (model) => (model === undefined ? table.routes[0] : routeOfModel(table, model)) };
}

export function scheduleStoreFor(redis: ScheduleRedis, config: Config): ScheduleStore {
  return new ScheduleStore(redis, config.redisKeyPrefix, leaseTtlFor(config));
}

/** The schedules API as the configuration sets it up (HTTP and CLI). */
export function schedulesFor(store: ScheduleStore, audit: AuditLog, config: Config, allowTopic?: (topic: string) => boolean): Schedules {
  return new Schedules({ store, audit, defaultCatchUp: config.scheduleCatchUp, where: whereFor(config), ...(allowTopic ? { allowTopic } : {}) });
}

/** The scheduler of a replica as the configuration sets it up. */
export function schedulerFor(
  config: Config,
  deps: { store: ScheduleStore; replays: ReplayPort; metrics?: ScheduleMetrics; log: Logger; allowTopic?: (topic: string) => boolean },
): Scheduler {
  return new Scheduler(
    { store: deps.store, replays: deps.replays, log: deps.log.child({ component: 'scheduler' }), ...(deps.metrics ? { metrics: deps.metrics } : {}) },
    {
      tickMs: config.scheduleTickMs,
      leaseTtlMs: leaseTtlFor(config),
      catchUp: config.scheduleCatchUp,
      historyLimit: config.scheduleHistory,
      where: whereFor(config),
      ...(deps.allowTopic ? { allowTopic: deps.allowTopic } : {}),
    },
  );
}
