import type { Logger } from 'pino';
import { ServiceError, errorMessage, asError } from '../errors.js';
import { ReplayLimitError, type StartOptions } from '../replay/jobs.js';
import { ReplayParamsError } from '../replay/range.js';
import type { ReplayStatus } from '../replay/types.js';
import type { ScheduleMetrics } from './metrics.js';
import { runParams, type RunWhere } from './params.js';
import { carryFrom } from './range.js';
import type { ScheduleStore } from './store.js';
import type { RunRange, RunState, ScheduleRun, StoredSchedule } from './types.js';

/** What the scheduler does with replay jobs (ReplayJobs implements it). */
export interface ReplayPort {
  start(input: unknown, options: StartOptions): Promise<string>;
  resume(id: string): Promise<void>;
  get(id: string): Promise<ReplayStatus | undefined>;
  /** The job's final status once its run in this process ends (its status now when none runs here). */
  wait(id: string): Promise<ReplayStatus | undefined>;
}

export interface RunDriverDeps {
  store: ScheduleStore;
  replays: ReplayPort;
  metrics?: ScheduleMetrics | undefined;
  log: Logger;
  /** This replica, as leases name it. */
  owner: string;
  now: () => number;
  /** Runs kept in a schedule's history. */
  historyLimit: number;
  /** What a run's params are filled in with: the default topics, and the folder of file outputs. */
  where: RunWhere;
  allowTopic?: ((topic: string) => boolean) | undefined;
  closing: () => boolean;
}

/**
 * Drives the runs this replica holds the lease of, one step at a time: start the firing's replay
 * job, follow it, retry it after a failure (resuming the same job from its checkpoint, so nothing
 * is written twice), and record how it ended. A run taken over from a replica that went away is
 * driven from whatever its job shows: finished, failed, interrupted or never started.
 */
export class RunDriver {
  private readonly following = new Map<string, Promise<void>>();
  private readonly owned = new Map<string, { schedule: string; firing: number }>();

  constructor(private readonly deps: RunDriverDeps) {}

  owns(schedule: string, firing: number): boolean {
    return this.owned.has(key(schedule, firing));
  }

  adopt(schedule: string, firing: number): void {
    this.owned.set(key(schedule, firing), { schedule, firing });
  }

  /** Resolves when no job this replica follows is running any more (and its end is recorded). */
  async settled(): Promise<void> {
    while (this.following.size > 0) await Promise.all([...this.following.values()]);
  }

  /** Keeps the leases of the runs held here; drops the ones lost (expired and taken by another replica). */
  async renewAll(): Promise<void> {
    for (const [k, { schedule, firing }] of this.owned) {
      const kept = await this.deps.store.renew(schedule, firing, this.deps.owner).catch(() => true);
      if (!kept) this.lose(k, 'its lease expired and another replica holds it');
    }
  }

  /** Gives up every lease held here (at shutdown: another replica takes the runs over at once). */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.owned.values()].map(({ schedule, firing }) => this.deps.store.release(schedule, firing, this.deps.owner).catch(() => undefined)));
    this.owned.clear();
  }

  /** The next step of a run held here. */
  async advance(s: StoredSchedule, run: ScheduleRun): Promise<void> {
    const id = s.definition.id;
    if (this.following.has(key(id, run.firing))) return;
    if (run.state === 'retrying' && this.deps.now() < (run.nextAttemptAt ?? 0)) return;
    const job = await this.deps.replays.get(run.jobId);
    if (job === undefined) return this.start(s, run);
    const current = run.range === undefined && job.plan !== undefined ? await this.recordPlan(s, run, job) : run;
    if (current === undefined) return;
    // A finished job ends the run, unless the run was asked for again (run-now of a cancelled or failed firing).
    if (job.state === 'succeeded') return this.finish(id, current, 'succeeded', job);
    if (job.state === 'cancelled' && current.attempts > 0) return this.finish(id, current, 'cancelled', job);
    // Run by a process that holds the job's lease (here, or `kscore replay --resume`): looked at again next tick.
    if (job.state === 'running') return;
    return this.resume(s, current);
  }

  private async start(s: StoredSchedule, run: ScheduleRun): Promise<void> {
    const def = s.definition;
    let params: ReturnType<typeof runParams>;
    try {
      params = runParams(def, run.firing, s.state.carry, this.deps.where);
    } catch (err) {
      return this.finish(def.id, run, 'failed', undefined, errorMessage(err));
    }
    try {
      await this.deps.replays.start(params.input, { id: run.jobId, actor: `schedule:${def.id}`, ...(this.deps.allowTopic ? { allowTopic: this.deps.allowTopic } : {}) });
    } catch (err) {
      if ((await this.deps.replays.get(run.jobId).catch(() => undefined)) !== undefined) return;
      if (err instanceof ReplayLimitError) return this.waitForRoom(def.id, run, err);
      if (err instanceof ServiceError && !err.canRetry) return this.finish(def.id, run, 'failed', undefined, errorMessage(err));
      return this.failedAttempt(s, run, errorMessage(err));
    }
    const job = await this.deps.replays.get(run.jobId);
    const recorded = job === undefined ? undefined : await this.recordPlan(s, { ...run, state: 'running', attempts: run.attempts + 1 }, job);
    if (recorded !== undefined) this.follow(s, recorded);
  }

  private async resume(s: StoredSchedule, run: ScheduleRun): Promise<void> {
    const { nextAttemptAt: _due, ...rest } = run;
    const next: ScheduleRun = { ...rest, state: 'running', attempts: run.attempts + 1, runBy: this.deps.owner };
    try {
      await this.deps.replays.resume(run.jobId);
    } catch (err) {
      // No room here yet, running here already, or it changed meanwhile: looked at again next tick.
      if (err instanceof ReplayLimitError) return this.waitForRoom(s.definition.id, run, err);
      if (err instanceof ReplayParamsError) return;
      return this.failedAttempt(s, run, errorMessage(err));
    }
    if (await this.save(s.definition.id, next)) this.follow(s, next);
  }

  private waitForRoom(id: string, run: ScheduleRun, err: Error): void {
    this.deps.log.info({ schedule: id, job: run.jobId, reason: err.message }, 'scheduled run waits for room');
  }

  /** The job's plan into the run (and, for "since previous run", where the next range starts). */
  private async recordPlan(s: StoredSchedule, run: ScheduleRun, job: ReplayStatus): Promise<ScheduleRun | undefined> {
    const plan = job.plan!;
    const from = job.params.from;
    const to = job.params.to;
    const range: RunRange = {
      topic: plan.sourceTopic,
      ...(from !== undefined && 'time' in from ? { fromTime: from.time } : {}),
      ...(to !== undefined && 'time' in to ? { toTime: to.time } : {}),
      partitions: plan.ranges.map((r) => ({ partition: r.partition, start: r.start, end: r.end })),
    };
    const output = plan.output.kind === 'topic' ? plan.output.topic : plan.output.kind === 'file' ? plan.output.path : 'compare report';
    const next: ScheduleRun = { ...run, range, output, runBy: this.deps.owner };
    const carry = s.definition.range.kind === 'since-previous-run' ? carryFrom(plan.sourceTopic, plan.ranges) : undefined;
    return (await this.save(s.definition.id, next, carry)) ? next : undefined;
  }

  private follow(s: StoredSchedule, run: ScheduleRun): void {
    const k = key(s.definition.id, run.firing);
    const done = (async () => {
      const final = await this.deps.replays.wait(run.jobId);
      // At shutdown the job is interrupted on purpose: the run stays in progress for whoever comes next.
      if (final === undefined || this.deps.closing() || !this.owned.has(k)) return;
      if (final.state === 'succeeded' || final.state === 'cancelled') return this.finish(s.definition.id, run, final.state, final);
      if (final.state === 'failed') return this.failedAttempt(s, run, final.error ?? 'the replay failed');
    })()
      .catch((err: unknown) => this.deps.log.warn({ schedule: s.definition.id, job: run.jobId, err: asError(err) }, 'could not record a scheduled run'))
      .finally(() => this.following.delete(k));
    this.following.set(k, done);
  }

  private async failedAttempt(s: StoredSchedule, run: ScheduleRun, error: string): Promise<void> {
    const def = s.definition;
    this.deps.metrics?.failedAttempt(def.id);
    const failures = run.failures + 1;
    if (failures >= def.retry.attempts) return this.finish(def.id, { ...run, failures }, 'failed', undefined, error);
    const delay = Math.min(3_600_000, def.retry.delayMs * 2 ** (failures - 1));
    const next: ScheduleRun = { ...run, state: 'retrying', failures, error, nextAttemptAt: this.deps.now() + delay };
    this.deps.log.warn({ schedule: def.id, job: run.jobId, failures, retryInMs: delay, err: error }, 'scheduled run failed; it will be retried');
    await this.save(def.id, next);
  }

  private async finish(id: string, run: ScheduleRun, state: Extract<RunState, 'succeeded' | 'failed' | 'cancelled'>, job?: ReplayStatus, error?: string): Promise<void> {
    const { nextAttemptAt: _due, error: previous, ...rest } = run;
    const p = job?.progress;
    const ended: ScheduleRun = {
      ...rest,
      state,
      finishedAt: this.deps.now(),
      ...(p === undefined ? {} : { counts: { offsets: p.doneOffsets, predictions: p.predictions, deadLetters: p.deadLetters, alreadyWritten: p.alreadyWritten } }),
      ...(state === 'succeeded' ? {} : { error: error ?? job?.error ?? previous ?? state }),
    };
    const k = key(id, run.firing);
    const recorded = await this.deps.store.finish(id, ended, this.deps.owner, this.deps.historyLimit);
    this.owned.delete(k);
    if (!recorded) return;
    this.deps.metrics?.ended(id, state);
    const log = { schedule: id, job: run.jobId, firing: run.firingAt, ...ended.counts };
    if (state === 'failed') this.deps.log.error({ ...log, err: ended.error }, 'scheduled run failed');
    else this.deps.log.info({ ...log, state }, 'scheduled run ended');
  }

  private async save(id: string, run: ScheduleRun, carry?: Parameters<ScheduleStore['update']>[3]): Promise<boolean> {
    const kept = await this.deps.store.update(id, run, this.deps.owner, carry);
    if (!kept) this.lose(key(id, run.firing), 'its lease is gone (expired, or the schedule was deleted)');
    return kept;
  }

  private lose(k: string, why: string): void {
    if (!this.owned.delete(k)) return;
    this.deps.log.warn({ run: k, why }, 'no longer driving a scheduled run');
  }
}

function key(schedule: string, firing: number): string {
  return `${schedule}@${firing}`;
}
