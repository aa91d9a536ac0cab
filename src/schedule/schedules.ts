import type { AuditLog } from '../registry/index.js';
import { nextAfter } from './cron.js';
import { ScheduleParamsError, parseSchedule, runParams, type RunWhere } from './params.js';
import type { ScheduleStore } from './store.js';
import { runJobId } from './template.js';
import { FINISHED_RUN_STATES, type CatchUpPolicy, type ScheduleDefinition, type ScheduleRun, type StoredSchedule } from './types.js';

export interface SchedulesDeps {
  store: ScheduleStore;
  audit: AuditLog;
  /** For schedules that name no catch-up policy (KSCORE_SCHEDULE_CATCH_UP). */
  defaultCatchUp: CatchUpPolicy;
  /** The default topics, and the folder file outputs go under (as the runs fill them in). */
  where: RunWhere;
  /** Topics schedules created over HTTP may name (KSCORE_REPLAY_ALLOWED_TOPICS). */
  allowTopic?: (topic: string) => boolean;
  now?: () => number;
}

/** A schedule as the API shows it: its definition, state, next firing and last run. */
export interface ScheduleView extends ScheduleDefinition {
  readonly catchUp: CatchUpPolicy;
  readonly paused: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
  /** The next cron firing (a past one when a run in progress holds it back); null while paused. */
  readonly nextRunAt: string | null;
  readonly running: { readonly firingAt: string; readonly jobId: string; readonly state: string } | null;
  readonly lastRun: ScheduleRun | null;
  readonly runs?: readonly ScheduleRun[];
}

/**
 * Schedules: create, list, show, pause, resume, delete and run now, for the HTTP API and the CLI.
 * Every change is recorded in the audit log with who made it. Runs are started by the schedulers
 * of the service's replicas (scheduler.ts), never here: run-now asks for one.
 */
export class Schedules {
  private readonly now: () => number;

  constructor(private readonly deps: SchedulesDeps) {
    this.now = deps.now ?? Date.now;
  }

  async create(input: unknown, actor: string): Promise<ScheduleView> {
    const def = parseSchedule(input);
    if (this.deps.allowTopic !== undefined) this.checkTopics(def, this.deps.allowTopic);
    const createdAt = this.now();
    // Firings from startAt on (default: from now on) are due.
    const cursor = (def.startAt ?? createdAt) - 1;
    if (!(await this.deps.store.create({ ...def, createdAt, createdBy: actor }, cursor))) {
      throw new ScheduleParamsError(`schedule ${def.id} exists already`, 'SCHEDULE_EXISTS');
    }
    await this.deps.audit.record({ actor, action: 'schedule-create', schedule: def.id, ...modelOf(def), detail: describe(def) });
    return (await this.get(def.id))!;
  }

  async list(): Promise<ScheduleView[]> {
    return Promise.all((await this.deps.store.list()).map((s) => this.view(s, 20)));
  }

  /** With its history, newest first (`limit` runs). */
  async get(id: string, limit = 20): Promise<ScheduleView | undefined> {
    const s = await this.deps.store.get(id);
    if (s === undefined) return undefined;
    const view = await this.view(s, limit);
    return { ...view, runs: await this.deps.store.runs(id, limit) };
  }

  async pause(id: string, actor: string): Promise<ScheduleView> {
    return this.setPaused(id, true, actor);
  }

  /** Firings missed while paused are dealt with by the catch-up policy. */
  async resume(id: string, actor: string): Promise<ScheduleView> {
    return this.setPaused(id, false, actor);
  }

  /** A run in progress goes on as a plain replay job (see `kscore replay list`). */
  async delete(id: string, actor: string): Promise<void> {
    const s = await this.deps.store.get(id);
    if (s === undefined || !(await this.deps.store.delete(id))) throw unknown(id);
    const detail = s.state.active === undefined ? 'deleted with its history' : `deleted with its history; the run in progress goes on as replay job ${runJobId(id, s.state.active)}`;
    await this.deps.audit.record({ actor, action: 'schedule-delete', schedule: id, detail });
  }

  /**
   * Asks for a run of the firing `at` (default: now, to the second) outside the cron expression,
   * paused or not; a replica's scheduler starts it at its next tick. The firing of a failed,
   * cancelled or skipped run is run again (a failed job resumes from its checkpoint).
   */
  async runNow(id: string, actor: string, at?: number): Promise<{ firingAt: string; jobId: string }> {
    const firing = at ?? Math.floor(this.now() / 1000) * 1000;
    const answer = await this.deps.store.request(id, firing);
    if (answer === 'gone') throw unknown(id);
    const jobId = runJobId(id, firing);
    if (answer !== 'queued') throw new ScheduleParamsError(`the run of ${new Date(firing).toISOString()} (job ${jobId}) is ${answer === 'succeeded' ? 'done already' : 'in progress'}`, 'SCHEDULE_RUN_EXISTS');
    await this.deps.audit.record({ actor, action: 'schedule-run-now', schedule: id, job: jobId, detail: `run asked for the firing ${new Date(firing).toISOString()}` });
    return { firingAt: new Date(firing).toISOString(), jobId };
  }

  private async setPaused(id: string, paused: boolean, actor: string): Promise<ScheduleView> {
    if (!(await this.deps.store.setPaused(id, paused))) throw unknown(id);
    await this.deps.audit.record({ actor, action: paused ? 'schedule-pause' : 'schedule-resume', schedule: id });
    return (await this.get(id))!;
  }

  private checkTopics(def: ScheduleDefinition, allow: (t: string) => boolean): void {
    const sample = runParams(def, this.now(), undefined, this.deps.where).input as { source?: { topic?: string }; output?: { topic?: string; deadLetterTopic?: string } };
    const topics = [sample.source?.topic, sample.output?.topic, sample.output?.deadLetterTopic].filter((t): t is string => t !== undefined);
    const refused = topics.filter((t) => !allow(t));
    if (refused.length > 0) throw new ScheduleParamsError(`schedules may not use topic${refused.length > 1 ? 's' : ''} ${refused.join(', ')} (KSCORE_REPLAY_ALLOWED_TOPICS)`);
  }

  private async view(s: StoredSchedule, limit: number): Promise<ScheduleView> {
    const { createdAt, createdBy, ...def } = s.definition;
    const runs = await this.deps.store.runs(def.id, limit);
    const active = s.state.active === undefined ? undefined : (runs.find((r) => r.firing === s.state.active) ?? (await this.deps.store.run(def.id, s.state.active)));
    return {
      ...def,
      catchUp: def.catchUp ?? this.deps.defaultCatchUp,
      paused: s.state.paused,
      createdAt: new Date(createdAt).toISOString(),
      createdBy,
      nextRunAt: s.state.paused ? null : new Date(nextAfter({ expression: def.cron, timeZone: def.timeZone }, s.state.cursor)).toISOString(),
      running: active === undefined ? null : { firingAt: active.firingAt, jobId: active.jobId, state: active.state },
      lastRun: runs.find((r) => FINISHED_RUN_STATES.has(r.state)) ?? null,
    };
  }
}

function unknown(id: string): ScheduleParamsError {
  return new ScheduleParamsError(`no schedule ${id}`, 'SCHEDULE_UNKNOWN');
}

function modelOf(def: ScheduleDefinition): { model?: string } {
  const m = def.replay['model'] as { name?: unknown } | undefined;
  return typeof m?.name === 'string' ? { model: m.name } : {};
}

function describe(def: ScheduleDefinition): string {
  const out = def.replay['output'] as { kind?: string; topic?: string; path?: string; live?: boolean } | undefined;
  const where =
    out?.kind === 'file' ? `file ${out.path}` : out?.live === true ? 'the live predictions topic' : out?.topic !== undefined ? `topic ${out.topic}` : 'the backfill topic';
  return `cron "${def.cron}" in ${def.timeZone}, range ${def.range.kind}, into ${where}`;
}
