import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { POISON_REASONS, type PoisonReason } from '../errors.js';
import type { PipelineObserver } from '../pipeline/types.js';
import type { ModelManagerEvents, ServingPlan } from '../scoring/model-manager.js';
import type { LiveModel } from '../scoring/types.js';
import { DriftWindow } from './drift.js';
import type { PartitionLag } from './lag.js';
import type { Stall } from './stalls.js';

/**
 * The service's Prometheus metrics. It only listens: the pipeline and the model manager report
 * events through the observer interfaces and know nothing of prom-client.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly registers = [this.registry];
  private readonly eventsIn: Counter<'topic'> = new Counter({ name: 'kscore_events_in_total', help: 'Feature events read', labelNames: ['topic'], registers: this.registers });
  private readonly predictions: Counter<'model'> = new Counter({ name: 'kscore_predictions_total', help: 'Predictions published and acknowledged, by model', labelNames: ['model'], registers: this.registers });
  private readonly deadLetters: Counter<'reason' | 'model'> = new Counter({
    name: 'kscore_dead_letters_total',
    help: "Events sent to the dead-letter topic, by reason and model ('' for events that matched no route)",
    labelNames: ['reason', 'model'],
    registers: this.registers,
  });
  private readonly batchSize: Histogram<'model'> = new Histogram({
    name: 'kscore_batch_size',
    help: 'Rows per scoring call',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
    labelNames: ['model'],
    registers: this.registers,
  });
  private readonly scoringSeconds: Histogram<'model'> = new Histogram({
    name: 'kscore_scoring_seconds',
    help: 'Time of one scoring call (onnxruntime), in seconds',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    labelNames: ['model'],
    registers: this.registers,
  });
  private readonly modelInfo: Gauge<'model' | 'version' | 'alias'> = new Gauge({
    name: 'kscore_model_info',
    help: 'The model version serving (1) behind the alias',
    labelNames: ['model', 'version', 'alias'],
    registers: this.registers,
  });
  private readonly swaps: Counter<'model'> = new Counter({ name: 'kscore_model_swaps_total', help: 'Model versions switched in', labelNames: ['model'], registers: this.registers });
  private readonly loadFailures: Counter<'model'> = new Counter({
    name: 'kscore_model_load_failures_total',
    help: 'Model versions that failed to load',
    labelNames: ['model'],
    registers: this.registers,
  });
  private readonly canaryShare: Gauge<'model' | 'alias'> = new Gauge({
    name: 'kscore_canary_share',
    help: 'Share of event keys routed to the canary alias (0 to 1)',
    labelNames: ['model', 'alias'],
    registers: this.registers,
  });
  private readonly shadowComparisons: Counter<'outcome' | 'model'> = new Counter({
    name: 'kscore_shadow_comparisons_total',
    help: 'Events scored by both the primary and the shadow version, by whether they agreed',
    labelNames: ['outcome', 'model'],
    registers: this.registers,
  });
  private readonly shadowDiff: Histogram<'model'> = new Histogram({
    name: 'kscore_shadow_score_difference',
    help: 'Absolute difference between the primary and the shadow score of an event',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1],
    labelNames: ['model'],
    registers: this.registers,
  });
  private readonly shadowFailures: Counter = new Counter({
    name: 'kscore_shadow_write_failures_total',
    help: 'Shadow predictions not written (the shadow topic refused them, or shadow sends backed up); primary output is not affected',
    labelNames: ['model'],
    registers: this.registers,
  });
  private readonly canaryFallbacks: Counter<'model'> = new Counter({
    name: 'kscore_canary_fallbacks_total',
    help: 'Events routed to the canary that it could not score (a feature it needs is missing) and the primary scored instead',
    labelNames: ['model'],
    registers: this.registers,
  });
  private readonly endToEnd: Histogram<'model'> = new Histogram({
    name: 'kscore_end_to_end_seconds',
    help: "From an event's timestamp to its prediction's acknowledgement by the broker, in seconds",
    buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    labelNames: ['model'],
    registers: this.registers,
  });
  private readonly scored: Counter<'model' | 'version'> = new Counter({
    name: 'kscore_events_scored_total',
    help: 'Events scored, by model version (primary, canary and shadow)',
    labelNames: ['model', 'version'],
    registers: this.registers,
  });
  private readonly lag: Gauge<'topic' | 'partition'> = new Gauge({
    name: 'kscore_consumer_lag',
    help: "Log-end offset minus the consumer group's committed offset, per partition",
    labelNames: ['topic', 'partition'],
    registers: this.registers,
  });
  private readonly stalledSeconds: Gauge<'topic' | 'partition'> = new Gauge({
    name: 'kscore_partition_stalled_seconds',
    help: 'How long a partition with lag has not advanced (0 while it advances or has no lag), once over KSCORE_STALL_AFTER_MS',
    labelNames: ['topic', 'partition'],
    registers: this.registers,
  });
  private readonly drift = new Map<LiveModel, DriftWindow>();
  /** The kscore_model_info and kscore_canary_share series each model's plan set last. */
  private readonly aliasSeries = new Map<string, { info: Record<'model' | 'version' | 'alias', string>[]; share: Record<'model' | 'alias', string>[] }>();

  constructor(
    private readonly driftWindowEvents = 10_000,
    featuresTopics?: string | readonly string[],
    /** The models the service scores: their labelled series exist from the start. */
    modelNames: readonly string[] = [],
  ) {
    const drift = this.drift;
    new Gauge({
      name: 'kscore_feature_drift_psi',
      help: 'Population stability index of recent inputs against the training baseline of the live version, per feature',
      labelNames: ['model', 'version', 'feature'],
      registers: this.registers,
      collect() {
        this.reset();
        for (const [live, window] of drift) {
          for (const [feature, value] of window.values()) this.set({ model: live.name, version: live.version, feature }, value);
        }
      },
    });
    // Node.js' own process metrics under their usual names, so stock Node.js dashboards work.
    collectDefaultMetrics({ register: this.registry });
    // Labelled series exist from the start, so a scraper sees their first increase.
    for (const topic of typeof featuresTopics === 'string' ? [featuresTopics] : (featuresTopics ?? [])) this.eventsIn.inc({ topic }, 0);
    for (const model of modelNames) {
      this.predictions.inc({ model }, 0);
      for (const reason of POISON_REASONS) this.deadLetters.inc({ reason, model }, 0);
    }
    // Each model's histograms (and its fallback counter) exist from the start, all zero, as an
    // unlabelled one would: a scraper (or the dashboard) then has a first reading to compare with.
    for (const model of modelNames) {
      for (const h of [this.endToEnd, this.scoringSeconds, this.batchSize, this.shadowDiff]) h.zero({ model });
      this.canaryFallbacks.inc({ model }, 0);
    }
  }

  readonly pipeline: PipelineObserver = {
    batchReceived: (topic, _partition, events) => this.eventsIn.inc({ topic }, events),
    batchScored: (rows, seconds, model, version) => {
      this.batchSize.observe({ model }, rows);
      this.scoringSeconds.observe({ model }, seconds);
      this.scored.inc({ model, version }, rows);
    },
    rowsScored: (live, input, rows) => {
      // Drift is kept for models of one float32 input (typed rows have no column-by-feature layout yet).
      if (live.baseline === undefined || !(input instanceof Float32Array)) return;
      let window = this.drift.get(live);
      if (window === undefined) {
        window = new DriftWindow(live.scorer.spec.features, live.baseline, this.driftWindowEvents);
        this.drift.set(live, window);
      }
      window.add(input, rows, live.scorer.spec.features.length);
    },
    predictionsAcknowledged: (timestamps, at, model) => {
      // The labelled child once per batch, not a label lookup per event.
      const e2e = this.endToEnd.labels({ model });
      for (let i = 0; i < timestamps.length; i++) e2e.observe((at - timestamps[i]!) / 1000);
    },
    predictionsPublished: (count, _oldest, model) => this.predictions.inc({ model }, count),
    deadLettered: (reason: PoisonReason, count, model) => this.deadLetters.inc({ reason, model }, count),
    canaryFallback: (count, model) => this.canaryFallbacks.inc({ model }, count),
    shadowCompared: (agree, disagree, diffs, model) => {
      if (agree > 0) this.shadowComparisons.inc({ outcome: 'agree', model }, agree);
      if (disagree > 0) this.shadowComparisons.inc({ outcome: 'disagree', model }, disagree);
      const diff = this.shadowDiff.labels({ model });
      for (const d of diffs) diff.observe(d);
    },
  };

  /** Shadow records of a model the sink could not write. */
  shadowFailed(model: string, count: number): void {
    this.shadowFailures.inc({ model }, count);
  }

  readonly models: ModelManagerEvents = {
    swapped: (_from: LiveModel | undefined, to: LiveModel) => this.swaps.inc({ model: to.name }),
    planChanged: (plan: ServingPlan, roles) => {
      // Each model has its own plan (a service may route to several): only this model's series change.
      const { primary, canary, shadow } = plan;
      const live = new Set<LiveModel>([primary]);
      if (canary) live.add(canary.model);
      if (shadow) live.add(shadow);
      for (const m of this.drift.keys()) if (m.name === primary.name && !live.has(m)) this.drift.delete(m);
      const before = this.aliasSeries.get(primary.name);
      for (const labels of before?.info ?? []) this.modelInfo.remove(labels);
      for (const labels of before?.share ?? []) this.canaryShare.remove(labels);
      const info = [{ model: primary.name, version: primary.version, alias: roles.primary }];
      const share: Record<'model' | 'alias', string>[] = [];
      if (canary !== undefined) {
        info.push({ model: canary.model.name, version: canary.model.version, alias: canary.alias });
        share.push({ model: canary.model.name, alias: canary.alias });
        this.canaryShare.set(share[0]!, canary.share);
      }
      if (shadow !== undefined && roles.shadow !== undefined) info.push({ model: shadow.name, version: shadow.version, alias: roles.shadow });
      for (const labels of info) this.modelInfo.set(labels, 1);
      this.aliasSeries.set(primary.name, { info, share });
    },
    loadFailed: (name) => this.loadFailures.inc({ model: name }),
  };

  setLag(lags: readonly PartitionLag[], stalled: readonly Stall[] = [], nowMs = Date.now()): void {
    for (const l of lags) this.lag.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
    const since = new Map(stalled.map((s) => [`${s.topic}\u0000${s.partition}`, s.sinceMs]));
    for (const l of lags) {
      const s = since.get(`${l.topic}\u0000${l.partition}`);
      this.stalledSeconds.set({ topic: l.topic, partition: String(l.partition) }, s === undefined ? 0 : (nowMs - s) / 1000);
    }
  }
}
