import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoisonReason } from '../errors.js';
import type { PipelineObserver } from '../pipeline/types.js';
import type { ModelManagerEvents } from '../scoring/model-manager.js';
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

  constructor(private readonly alias: string) {
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
  };

  readonly models: ModelManagerEvents = {
    swapped: (from: LiveModel | undefined, to: LiveModel) => {
      if (from !== undefined) this.modelInfo.remove({ model: from.name, version: from.version, alias: this.alias });
      this.modelInfo.set({ model: to.name, version: to.version, alias: this.alias }, 1);
      this.swaps.inc({ model: to.name });
    },
    loadFailed: (name) => this.loadFailures.inc({ model: name }),
  };
}
