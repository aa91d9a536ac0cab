import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoisonReason } from '../errors.js';
import type { PipelineObserver } from '../pipeline/types.js';
import type { ModelManagerEvents, ServingPlan } from '../scoring/model-manager.js';
import type { LiveModel } from '../scoring/types.js';

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

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'kscore_process_' });
    this.eventsIn = new Counter({ name: 'kscore_events_in_total', help: 'Feature events read', labelNames: ['topic'], registers });
    this.predictions = new Counter({ name: 'kscore_predictions_total', help: 'Predictions published and acknowledged', registers });
    this.deadLetters = new Counter({
      name: 'kscore_dead_letters_total',
      help: 'Events sent to the dead-letter topic, by reason',
      labelNames: ['reason'],
      registers,
    });
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
    batchScored: (rows, seconds) => {
      this.batchSize.observe(rows);
      this.scoringSeconds.observe(seconds);
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
}
