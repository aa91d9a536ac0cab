import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { errorMessage, asError } from '../errors.js';
import { dueFirings, type DueDecision } from './catch-up.js';
import { nextAfter, type CronSpec } from './cron.js';
import type { ScheduleMetrics, ScheduleSnapshot } from './metrics.js';
import { RunDriver, type ReplayPort } from './runner.js';
import type { RunWhere } from './params.js';
import type { ScheduleStore } from './store.js';
import { runJobId } from './template.js';
import { FINISHED_RUN_STATES, type CatchUpPolicy, type ScheduleRun, type StoredSchedule } from './types.js';

/** How the scheduler waits between ticks; tests hand in one they drive themselves. */
export interface Timer {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimer: Timer = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface SchedulerOptions {
  /** How often due firings are looked for, in ms. */
  tickMs: number;
  /** A firing's lease lasts this long unless renewed (every third of it, in real time), in ms. */
  leaseTtlMs: number;
  /** For schedules that name none. */
  catchUp: CatchUpPolicy;
  /** A firing noticed within this long of its time is on time, in ms. Default: max(60 s, 2 ticks). */
  graceMs?: number;
  historyLimit: number;
  where: RunWhere;
  allowTopic?: (topic: string) => boolean;
  /** The scheduler's clock, epoch ms. Default Date.now. */
  now?: () => number;
  timer?: Timer;
}

export interface SchedulerDeps {
  store: ScheduleStore;
  replays: ReplayPort;
  metrics?: ScheduleMetrics;
  log: Logger;
  /** This replica in leases; default host name, pid and a random part. */
  owner?: string;
}

/**
 * Starts scheduled runs. Every replica may run one; at each tick it reads every schedule from
 * Redis and, per schedule: drives the run in progress if it holds its lease (or takes it over once
 * the replica that held it let it expire), else claims what is due (run-now requests first, then
 * cron firings per the catch-up policy). A claim is one Redis script, so exactly one replica gets
 * each firing; runs of one schedule never overlap.
 */
export class Scheduler {
  readonly owner: string;
  private readonly driver: RunDriver;
  private readonly now: () => number;
  private readonly timer: Timer;
  private handle: unknown;
  private renewer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly options: SchedulerOptions,
  ) {
    this.owner = deps.owner ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 6)}`;
    this.now = options.now ?? Date.now;
    this.timer = options.timer ?? realTimer;
    this.driver = new RunDriver({
      store: deps.store,
      replays: deps.replays,
      metrics: deps.metrics,
      log: deps.log,
      owner: this.owner,
      now: this.now,
      historyLimit: options.historyLimit,
      where: options.where,
      allowTopic: options.allowTopic,
      closing: () => this.closed,
    });
  }

  /** Ticks every `tickMs` until closed (the first tick at once). */
  start(): void {
    const loop = (): void => {
      if (this.closed) return;
      void this.tick().finally(() => {
        if (!this.closed) this.handle = this.timer.set(loop, this.options.tickMs);
      });
    };
    loop();
    this.renewer = setInterval(() => void this.driver.renewAll(), Math.max(100, Math.floor(this.options.leaseTtlMs / 3)));
    this.renewer.unref();
  }

  /** One pass over every schedule. Ticks never overlap: a tick asked for during one waits for it. */
  tick(): Promise<void> {
    this.ticking ??= this.pass().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /** Resolves when the runs this replica follows have ended and their ends are recorded. */
  idle(): Promise<void> {
    return this.driver.settled();
  }

  /**
   * Stops ticking and gives up the leases held here, so that another replica takes the runs over
   * at once (their jobs are interrupted by ReplayJobs.close, next in the shutdown). Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer.clear(this.handle);
    clearInterval(this.renewer);
    await this.ticking?.catch(() => undefined);
    await this.driver.releaseAll();
  }

  private async pass(): Promise<void> {
    if (this.closed) return;
    let schedules: StoredSchedule[];
    try {
      schedules = await this.deps.store.list();
    } catch (err) {
      this.deps.log.warn({ err: asError(err) }, 'cannot read the schedules; trying again next tick');
      return;
    }
    const snapshots: ScheduleSnapshot[] = [];
    for (const s of schedules) {
      if (this.closed) return;
      const id = s.definition.id;
      try {
        await this.tickOne(s);
        const now = await this.deps.store.get(id);
        if (now !== undefined) snapshots.push(await this.snapshot(now));
      } catch (err) {
        this.deps.log.warn({ schedule: id, err: asError(err) }, 'schedule tick failed; trying again next tick');
      }
    }
    this.deps.metrics?.show(snapshots);
  }

  private async tickOne(s: StoredSchedule): Promise<void> {
    const { store, log } = this.deps;
    const id = s.definition.id;
    const active = s.state.active;
    if (active !== undefined) {
      if (!this.driver.owns(id, active)) {
        if (!(await store.takeOver(id, active, this.owner))) return;
        this.driver.adopt(id, active);
        log.warn({ schedule: id, firing: new Date(active).toISOString() }, 'taking over a scheduled run whose replica went away');
      }
      const run = await store.run(id, active);
      if (run !== undefined) await this.driver.advance(s, run);
      return;
    }
    const now = this.now();
    const asked = (await store.requests(id)).find((f) => f <= now);
    if (asked !== undefined) return this.claim(s, { kind: 'manual', run: this.newRun(id, asked, 'manual') });
    if (s.state.paused) return;
    const policy = s.definition.catchUp ?? this.options.catchUp;
    const decision = dueFirings(this.spec(s), s.state.cursor, now, policy, this.options.graceMs ?? Math.max(60_000, 2 * this.options.tickMs));
    if (decision === undefined) return;
    const skipped = decision.skipped === undefined ? undefined : this.skippedRun(id, decision.skipped);
    if (decision.run === undefined) {
      if (skipped !== undefined && (await store.skip(id, s.state.cursor, decision.cursor, skipped))) this.recordSkipped(id, skipped);
      return;
    }
    await this.claim(s, { kind: 'cron', run: this.newRun(id, decision.run, 'cron'), expectedCursor: s.state.cursor, newCursor: decision.cursor, ...(skipped ? { skipped } : {}) });
  }

  private async claim(s: StoredSchedule, c: Parameters<ScheduleStore['claim']>[1]): Promise<void> {
    const id = s.definition.id;
    const result = await this.deps.store.claim(id, c);
    if (result !== 'ok') return; // another replica got it, or the schedule changed meanwhile
    this.driver.adopt(id, c.run.firing);
    if (c.skipped !== undefined) this.recordSkipped(id, c.skipped);
    this.deps.log.info({ schedule: id, firing: c.run.firingAt, job: c.run.jobId, trigger: c.kind }, 'scheduled run claimed');
    await this.driver.advance(s, c.run);
  }

  private newRun(id: string, firing: number, trigger: ScheduleRun['trigger']): ScheduleRun {
    const now = this.now();
    return { firing, firingAt: new Date(firing).toISOString(), trigger, state: 'running', jobId: runJobId(id, firing), attempts: 0, failures: 0, claimedBy: this.owner, runBy: this.owner, claimedAt: now };
  }

  private skippedRun(id: string, sk: NonNullable<DueDecision['skipped']>): ScheduleRun {
    const run = this.newRun(id, sk.from, 'cron');
    return { ...run, state: 'skipped', finishedAt: run.claimedAt, skipped: { until: sk.until, count: sk.count, capped: sk.capped, reason: sk.reason } };
  }

  private recordSkipped(id: string, run: ScheduleRun): void {
    this.deps.metrics?.ended(id, 'skipped', run.skipped?.count ?? 1);
    this.deps.log.warn({ schedule: id, from: run.firingAt, until: new Date(run.skipped!.until).toISOString(), count: run.skipped!.count, reason: run.skipped!.reason }, 'scheduled firings skipped');
  }

  private spec(s: StoredSchedule): CronSpec {
    return { expression: s.definition.cron, timeZone: s.definition.timeZone };
  }

  private async snapshot(s: StoredSchedule): Promise<ScheduleSnapshot> {
    const id = s.definition.id;
    const last = (await this.deps.store.runs(id, 20)).find((r) => FINISHED_RUN_STATES.has(r.state));
    return {
      id,
      paused: s.state.paused,
      running: s.state.active !== undefined,
      ...(s.state.paused ? {} : { nextRunAt: nextAfter(this.spec(s), s.state.cursor) }),
      ...(last?.finishedAt === undefined ? {} : { lastRun: { state: last.state, finishedAt: last.finishedAt } }),
    };
  }
}
