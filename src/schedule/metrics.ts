import { Counter, Gauge, type Registry } from 'prom-client';
import type { RunState } from './types.js';

const OUTCOMES = ['succeeded', 'failed', 'cancelled'] as const;

/** A schedule as the gauges show it (every replica shows every schedule, from Redis). */
export interface ScheduleSnapshot {
  readonly id: string;
  readonly paused: boolean;
  /** Epoch ms; undefined while paused. */
  readonly nextRunAt?: number;
  readonly running: boolean;
  /** The newest finished run (skipped ones aside). */
  readonly lastRun?: { readonly state: RunState; readonly finishedAt: number };
}

/**
 * Prometheus metrics of schedules. The gauges are read from Redis by every replica at each tick,
 * so any replica's /metrics tells the same (dashboards take the max per schedule); the counters
 * count what this replica did (dashboards sum them).
 */
export class ScheduleMetrics {
  private readonly runs: Counter<'schedule' | 'outcome'>;
  private readonly failures: Counter<'schedule'>;
  private readonly lastRun: Gauge<'schedule'>;
  private readonly lastOutcome: Gauge<'schedule' | 'outcome'>;
  private readonly nextRun: Gauge<'schedule'>;
  private readonly paused: Gauge<'schedule'>;
  private readonly running: Gauge<'schedule'>;
  private known = new Set<string>();

  constructor(register: Registry) {
    const registers = [register];
    this.runs = new Counter({ name: 'kscore_schedule_runs_total', help: 'Scheduled runs ended here, by outcome (succeeded, failed, cancelled, skipped)', labelNames: ['schedule', 'outcome'], registers });
    this.failures = new Counter({ name: 'kscore_schedule_run_failures_total', help: 'Failed attempts of scheduled runs here, retried or not', labelNames: ['schedule'], registers });
    this.lastRun = new Gauge({ name: 'kscore_schedule_last_run_timestamp_seconds', help: 'When the last finished run of the schedule ended (Unix time)', labelNames: ['schedule'], registers });
    this.lastOutcome = new Gauge({ name: 'kscore_schedule_last_run_outcome', help: 'Outcome of the last finished run of the schedule (1 for its outcome)', labelNames: ['schedule', 'outcome'], registers });
    this.nextRun = new Gauge({ name: 'kscore_schedule_next_run_timestamp_seconds', help: 'When the schedule fires next (Unix time; absent while paused)', labelNames: ['schedule'], registers });
    this.paused = new Gauge({ name: 'kscore_schedule_paused', help: 'Whether the schedule is paused (1) or active (0)', labelNames: ['schedule'], registers });
    this.running = new Gauge({ name: 'kscore_schedule_running', help: 'Whether a run of the schedule is in progress (1) or not (0)', labelNames: ['schedule'], registers });
  }

  /** A run ended here (or firings were skipped: `count` of them). */
  ended(schedule: string, outcome: 'succeeded' | 'failed' | 'cancelled' | 'skipped', count = 1): void {
    this.runs.inc({ schedule, outcome }, count);
  }

  failedAttempt(schedule: string): void {
    this.failures.inc({ schedule });
  }

  /** The schedules as they are now; series of schedules that are gone are removed. */
  show(snapshots: readonly ScheduleSnapshot[]): void {
    const now = new Set(snapshots.map((s) => s.id));
    for (const id of this.known) if (!now.has(id)) this.remove(id);
    this.known = now;
    for (const s of snapshots) {
      const schedule = s.id;
      this.paused.set({ schedule }, s.paused ? 1 : 0);
      this.running.set({ schedule }, s.running ? 1 : 0);
      if (s.nextRunAt === undefined) this.nextRun.remove({ schedule });
      else this.nextRun.set({ schedule }, s.nextRunAt / 1000);
      if (s.lastRun !== undefined) {
        this.lastRun.set({ schedule }, s.lastRun.finishedAt / 1000);
        for (const outcome of OUTCOMES) this.lastOutcome.set({ schedule, outcome }, s.lastRun.state === outcome ? 1 : 0);
      }
    }
  }

  private remove(schedule: string): void {
    for (const g of [this.lastRun, this.nextRun, this.paused, this.running]) g.remove({ schedule });
    for (const outcome of OUTCOMES) this.lastOutcome.remove({ schedule, outcome });
  }
}
