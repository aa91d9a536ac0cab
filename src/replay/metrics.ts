import { Counter, Gauge, type Registry } from 'prom-client';
import type { ReplayStatus } from './types.js';

const STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;
const ENDED = new Set<string>(['succeeded', 'failed', 'cancelled']);
const KINDS = ['prediction', 'dead_letter', 'already_written'] as const;
type Kind = (typeof KINDS)[number];

/** The label naming a job: not `job`, which Prometheus sets to the scrape job of every series. */
type JobLabel = 'replay_job';

/** What a job's counters last counted up to, so that each status adds only what is new. */
interface Counted {
  done: number;
  records: Record<Kind, number>;
}

/**
 * Prometheus metrics of replay jobs, by job id (label `replay_job`), in the registry given (the
 * service's, to show on its /metrics). It only listens: the jobs call `update` with each status
 * they publish. What only grows (offsets done, records written) is a counter, so that a rate is
 * Prometheus' `rate()`; where a job is (ratio, planned, its own rate estimate, time left, state)
 * are gauges. A finished job's series stay `lingerMs` (so scrapes see how it ended) and are then
 * removed: the metrics do not grow with the number of jobs ever run.
 */
export class ReplayMetrics {
  private readonly ratio: Gauge<JobLabel>;
  private readonly done: Counter<JobLabel>;
  private readonly planned: Gauge<JobLabel>;
  private readonly rate: Gauge<JobLabel>;
  private readonly eta: Gauge<JobLabel>;
  private readonly records: Counter<JobLabel | 'kind'>;
  private readonly state: Gauge<JobLabel | 'state'>;
  private readonly counted = new Map<string, Counted>();
  private readonly removals = new Map<string, NodeJS.Timeout>();

  constructor(
    register: Registry,
    private readonly lingerMs = 5 * 60_000,
  ) {
    const registers = [register];
    const labelNames = ['replay_job'] as const;
    this.ratio = new Gauge({ name: 'kscore_replay_progress_ratio', help: 'Share of the replay range done (0 to 1)', labelNames, registers });
    this.done = new Counter({ name: 'kscore_replay_offsets_done_total', help: 'Offsets of the replay range scored or dead-lettered and acknowledged (again after a resume that rewinds)', labelNames, registers });
    this.planned = new Gauge({ name: 'kscore_replay_offsets_planned', help: 'Offsets in the replay range', labelNames, registers });
    this.rate = new Gauge({ name: 'kscore_replay_rate_per_second', help: "The job's own estimate of offsets replayed per second over the last seconds (Prometheus: rate of kscore_replay_offsets_done_total)", labelNames, registers });
    this.eta = new Gauge({ name: 'kscore_replay_eta_seconds', help: 'Seconds left at the current rate (-1: unknown)', labelNames, registers });
    this.records = new Counter({
      name: 'kscore_replay_records_total',
      help: 'Records of the replay, by kind (prediction, dead_letter, already_written)',
      labelNames: ['replay_job', 'kind'],
      registers,
    });
    this.state = new Gauge({ name: 'kscore_replay_state', help: 'The state of each replay job (1 for its state)', labelNames: ['replay_job', 'state'], registers });
  }

  update(s: ReplayStatus): void {
    const job = s.id;
    const p = s.progress;
    const labels = { replay_job: job };
    this.ratio.set(labels, p.ratio);
    this.planned.set(labels, p.plannedOffsets);
    this.rate.set(labels, p.ratePerSecond);
    this.eta.set(labels, p.etaSeconds ?? -1);
    this.count(job, { done: p.doneOffsets, records: { prediction: p.predictions, dead_letter: p.deadLetters, already_written: p.alreadyWritten } });
    for (const state of STATES) this.state.set({ replay_job: job, state }, s.state === state ? 1 : 0);
    clearTimeout(this.removals.get(job));
    this.removals.delete(job);
    if (s.finishedAt !== undefined && ENDED.has(s.state)) {
      const t = setTimeout(() => this.remove(job), this.lingerMs);
      t.unref();
      this.removals.set(job, t);
    }
  }

  /** Adds what grew since the last status; a figure that went back (a resume rewound) adds nothing. */
  private count(job: string, now: Counted): void {
    const before = this.counted.get(job);
    this.done.inc({ replay_job: job }, Math.max(0, now.done - (before?.done ?? 0)));
    for (const kind of KINDS) this.records.inc({ replay_job: job, kind }, Math.max(0, now.records[kind] - (before?.records[kind] ?? 0)));
    this.counted.set(job, now);
  }

  /** Drops every series of a job. */
  remove(job: string): void {
    this.removals.delete(job);
    this.counted.delete(job);
    const labels = { replay_job: job };
    for (const m of [this.ratio, this.done, this.planned, this.rate, this.eta]) m.remove(labels);
    for (const kind of KINDS) this.records.remove({ replay_job: job, kind });
    for (const state of STATES) this.state.remove({ replay_job: job, state });
  }
}
