import { Gauge, type Registry } from 'prom-client';
import type { ReplayStatus } from './types.js';

const STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;

/**
 * Prometheus gauges of replay jobs, by job id, in the registry given (the service's, to show on
 * its /metrics). It only listens: the jobs call `update` with each status they publish.
 */
export class ReplayMetrics {
  private readonly ratio: Gauge<'job'>;
  private readonly done: Gauge<'job'>;
  private readonly planned: Gauge<'job'>;
  private readonly rate: Gauge<'job'>;
  private readonly eta: Gauge<'job'>;
  private readonly records: Gauge<'job' | 'kind'>;
  private readonly state: Gauge<'job' | 'state'>;

  constructor(register: Registry) {
    const registers = [register];
    this.ratio = new Gauge({ name: 'kscore_replay_progress_ratio', help: 'Share of the replay range done (0 to 1)', labelNames: ['job'], registers });
    this.done = new Gauge({ name: 'kscore_replay_offsets_done', help: 'Offsets of the replay range scored or dead-lettered and acknowledged', labelNames: ['job'], registers });
    this.planned = new Gauge({ name: 'kscore_replay_offsets_planned', help: 'Offsets in the replay range', labelNames: ['job'], registers });
    this.rate = new Gauge({ name: 'kscore_replay_rate_per_second', help: 'Offsets replayed per second over the last seconds', labelNames: ['job'], registers });
    this.eta = new Gauge({ name: 'kscore_replay_eta_seconds', help: 'Seconds left at the current rate (-1: unknown)', labelNames: ['job'], registers });
    this.records = new Gauge({
      name: 'kscore_replay_records',
      help: 'Records of the replay written, by kind (prediction, dead_letter, already_written)',
      labelNames: ['job', 'kind'],
      registers,
    });
    this.state = new Gauge({ name: 'kscore_replay_state', help: 'The state of each replay job (1 for its state)', labelNames: ['job', 'state'], registers });
  }

  update(s: ReplayStatus): void {
    const job = s.id;
    const p = s.progress;
    this.ratio.set({ job }, p.ratio);
    this.done.set({ job }, p.doneOffsets);
    this.planned.set({ job }, p.plannedOffsets);
    this.rate.set({ job }, p.ratePerSecond);
    this.eta.set({ job }, p.etaSeconds ?? -1);
    this.records.set({ job, kind: 'prediction' }, p.predictions);
    this.records.set({ job, kind: 'dead_letter' }, p.deadLetters);
    this.records.set({ job, kind: 'already_written' }, p.alreadyWritten);
    for (const state of STATES) this.state.set({ job, state }, s.state === state ? 1 : 0);
  }
}
