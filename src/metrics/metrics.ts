import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { POISON_REASONS, type PoisonReason } from '../errors.js';
import type { PipelineObserver } from '../pipeline/types.js';
import type { ModelManagerEvents, ServingPlan } from '../scoring/model-manager.js';
import type { LiveModel } from '../scoring/types.js';
import { DriftWindow } from './drift.js';
import type { PartitionLag } from './lag.js';

/**
 * The service's Prometheus metrics. It only listens: the pipeline and the model manager report
 * events through the observer interfaces and know nothing of prom-client.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly eventsIn: Counter<'topic'>;
  private readonly predictions: Counter;
  private readonly deadLetters: Counter<'reason'>;
  private readonly batchSize: Histogram;
  private readonly scoringSeconds: Histogram;
  private readonly modelInfo: Gauge<'model' | 'version' | 'alias'>;
  private readonly swaps: Counter<'model'>;
  private readonly loadFailures: Counter<'model'>;
  private readonly canaryShare: Gauge<'model' | 'alias'>;
  private readonly shadowComparisons: Counter<'outcome'>;
  private readonly shadowDiff: Histogram;
  private readonly endToEnd: Histogram;
  private readonly scored: Counter<'model' | 'version'>;
  private readonly lag: Gauge<'topic' | 'partition'>;
  private readonly drift = new Map<LiveModel, DriftWindow>();

  constructor(
    private readonly driftWindowEvents = 10_000,
    featuresTopic?: string,
  ) {
    const registers = [this.registry];
    this.endToEnd = new Histogram({
      name: 'kscore_end_to_end_seconds',
      help: "From an event's timestamp to its prediction's acknowledgement by the broker, in seconds",
      buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.scored = new Counter({
      name: 'kscore_events_scored_total',
      help: 'Events scored, by model version (primary, canary and shadow)',
      labelNames: ['model', 'version'],
      registers,
    });
    this.lag = new Gauge({
      name: 'kscore_consumer_lag',
      help: "Log-end offset minus the consumer group's committed offset, per partition",
      labelNames: ['topic', 'partition'],
      registers,
    });
    const drift = this.drift;
    new Gauge({
      name: 'kscore_feature_drift_psi',
      help: 'Population stability index of recent inputs against the training baseline of the live version, per feature',
      labelNames: ['model', 'version', 'feature'],
      registers,
      collect() {
        this.reset();
        for (const [live, window] of drift) {
          for (const [feature, value] of window.values()) this.set({ model: live.name, version: live.version, feature }, value);
        }
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'kscore_' });
    this.eventsIn = new Counter({ name: 'kscore_events_in_total', help: 'Feature events read', labelNames: ['topic'], registers });
    this.predictions = new Counter({ name: 'kscore_predictions_total', help: 'Predictions published and acknowledged', registers });
    this.deadLetters = new Counter({
      name: 'kscore_dead_letters_total',
      help: 'Events sent to the dead-letter topic, by reason',
      labelNames: ['reason'],
      registers,
    });
    // Labelled series exist from the start, so a scraper sees their first increase.
    if (featuresTopic !== undefined) this.eventsIn.inc({ topic: featuresTopic }, 0);
    for (const reason of POISON_REASONS) this.deadLetters.inc({ reason }, 0);
    this.batchSize = new Histogram({
      name: 'kscore_batch_size',
      help: 'Rows per scoring call',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
      registers,
    });
    this.scoringSeconds = new Histogram({
      name: 'kscore_scoring_seconds',
      help: 'Time of one scoring call (onnxruntime), in seconds',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    });
    this.modelInfo = new Gauge({
      name: 'kscore_model_info',
      help: 'The model version serving (1) behind the alias',
      labelNames: ['model', 'version', 'alias'],
      registers,
    });
    this.swaps = new Counter({ name: 'kscore_model_swaps_total', help: 'Model versions switched in', labelNames: ['model'], registers });
    this.canaryShare = new Gauge({
      name: 'kscore_canary_share',
      help: 'Share of event keys routed to the canary alias (0 to 1)',
      labelNames: ['model', 'alias'],
      registers,
    });
    this.shadowComparisons = new Counter({
      name: 'kscore_shadow_comparisons_total',
      help: 'Events scored by both the primary and the shadow version, by whether they agreed',
      labelNames: ['outcome'],
      registers,
    });
    this.shadowDiff = new Histogram({
      name: 'kscore_shadow_score_difference',
      help: 'Absolute difference between the primary and the shadow score of an event',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1],
      registers,
    });
    this.loadFailures = new Counter({
      name: 'kscore_model_load_failures_total',
      help: 'Model versions that failed to load',
      labelNames: ['model'],
      registers,
    });
  }

  readonly pipeline: PipelineObserver = {
    batchReceived: (topic, _partition, events) => this.eventsIn.inc({ topic }, events),
    batchScored: (rows, seconds, model, version) => {
      this.batchSize.observe(rows);
      this.scoringSeconds.observe(seconds);
      this.scored.inc({ model, version }, rows);
    },
    rowsScored: (live, input, rows) => {
      if (live.baseline === undefined) return;
      let window = this.drift.get(live);
      if (window === undefined) {
        window = new DriftWindow(live.scorer.spec.features, live.baseline, this.driftWindowEvents);
        this.drift.set(live, window);
      }
      window.add(input, rows, live.scorer.spec.features.length);
    },
    predictionsAcknowledged: (timestamps, at) => {
      for (let i = 0; i < timestamps.length; i++) this.endToEnd.observe((at - timestamps[i]!) / 1000);
    },
    predictionsPublished: (count) => this.predictions.inc(count),
    deadLettered: (reason: PoisonReason, count) => this.deadLetters.inc({ reason }, count),
    shadowCompared: (agree, disagree, diffs) => {
      if (agree > 0) this.shadowComparisons.inc({ outcome: 'agree' }, agree);
      if (disagree > 0) this.shadowComparisons.inc({ outcome: 'disagree' }, disagree);
      for (const d of diffs) this.shadowDiff.observe(d);
    },
  };

  readonly models: ModelManagerEvents = {
    swapped: (_from: LiveModel | undefined, to: LiveModel) => this.swaps.inc({ model: to.name }),
    planChanged: (plan: ServingPlan, roles) => {
      const live = new Set<LiveModel>([plan.primary]);
      if (plan.canary) live.add(plan.canary.model);
      if (plan.shadow) live.add(plan.shadow);
      for (const m of this.drift.keys()) if (!live.has(m)) this.drift.delete(m);
      this.modelInfo.reset();
      this.canaryShare.reset();
      const { primary, canary, shadow } = plan;
      this.modelInfo.set({ model: primary.name, version: primary.version, alias: roles.primary }, 1);
      if (canary !== undefined) {
        this.modelInfo.set({ model: canary.model.name, version: canary.model.version, alias: canary.alias }, 1);
        this.canaryShare.set({ model: canary.model.name, alias: canary.alias }, canary.share);
      }
      if (shadow !== undefined && roles.shadow !== undefined) {
        this.modelInfo.set({ model: shadow.name, version: shadow.version, alias: roles.shadow }, 1);
      }
    },
    loadFailed: (name) => this.loadFailures.inc({ model: name }),
  };

  setLag(lags: readonly PartitionLag[]): void {
    for (const l of lags) this.lag.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
  }
}
