import type { PredictionRecord } from '../codec/types.js';
import type { PoisonReason } from '../errors.js';
import type { Headers, KafkaRecord, OutgoingRecord, RecordBatch } from '../kafka/index.js';
import type { ModelProvider } from '../scoring/model-manager.js';
import type { LiveModel, ModelInput } from '../scoring/types.js';

/** A record read from Kafka (or any bounded source), as the pipeline needs it. */
export type SourceMessage = KafkaRecord;

/** Consecutive records of one partition; `nextOffset` (from a consumer) is the position past them. */
export type PartitionBatch = RecordBatch & { readonly nextOffset?: string };

/** A record the service publishes to Kafka (a prediction or a dead letter), encoded. */
export type OutputMessage = OutgoingRecord & { readonly key: Buffer | null; readonly headers: Headers };

/** Which version scored a prediction: the primary alias's, the canary's (a key share), or the shadow's. */
export type ScoredRole = 'primary' | 'canary';

/** What became of one source record, in the pipeline's terms; sinks encode it as they need. */
export type RecordOutcome = ScoredOutcome | DeadLetterOutcome;

/** Where a route's outcomes go: one object per route, which all its outcomes share. */
export interface Destinations {
  readonly predictionsTopic: string;
  readonly deadLetterTopic: string;
  /** Where shadow predictions go; undefined: none are written. */
  readonly shadowTopic?: string | undefined;
}

export interface ScoredOutcome {
  readonly kind: 'scored';
  readonly source: SourceMessage;
  /** Where it goes; undefined: the sink's own topics (replay). */
  readonly to?: Destinations | undefined;
  readonly role: ScoredRole;
  readonly prediction: PredictionRecord;
  /** The shadow version's prediction of the same record, when a shadow scores and could. */
  readonly shadow?: PredictionRecord;
  /** The decoded event, whole (only when the pipeline is asked to keep events, e.g. for compare mode's labels). */
  readonly event?: unknown;
}

export interface DeadLetterOutcome {
  readonly kind: 'dead-letter';
  readonly source: SourceMessage;
  readonly reason: PoisonReason;
  readonly detail: string;
  /** The model (and its primary version) that could not score it; undefined when it reached none (no route). */
  readonly model?: string | undefined;
  readonly version?: string | undefined;
  readonly to?: Destinations | undefined;
}

/** One model a topic's events (or some of them) go to. */
export interface RoutedModel {
  readonly provider: ModelProvider;
  /** Where its outcomes go; undefined: the sink's own topics. */
  readonly to?: Destinations | undefined;
}

/** Every event of the topic goes to one model. */
export interface SingleRouting {
  readonly kind: 'single';
  readonly route: RoutedModel;
}

/** The topic is split between models by a header or a field of each event. */
export interface SplitRouting {
  readonly kind: 'split';
  readonly routes: readonly RoutedModel[];
  /** The key is a field: events are decoded before they are routed (and only once). */
  readonly byField: boolean;
  /** The index in `routes` of the event's route, or -1; allocates nothing. */
  match(message: SourceMessage, decoded: unknown): number;
  /** Why an event matched no route (the detail of its dead letter). */
  unmatchedDetail(message: SourceMessage, decoded: unknown): string;
  /** Where events that match no route (or cannot be decoded to find one) go. */
  readonly unmatched: Destinations;
}

export type TopicRouting = SingleRouting | SplitRouting;

/** How each topic's events find their model; looked up once per batch. */
export interface Router {
  forTopic(topic: string): TopicRouting | undefined;
}

/** The outcomes of one partition batch, one per source record, in offset order. */
export interface BatchOutcomes {
  readonly topic: string;
  readonly partition: number;
  readonly outcomes: readonly RecordOutcome[];
  /** The source partition's position past the batch, when a consumer fetched it (exactly-once commits it with the outputs). */
  readonly nextOffset?: string | undefined;
}

/**
 * Where outcomes go (Kafka, a file, a comparison). `send` resolves once they are durable there
 * (for Kafka: acknowledged by the broker); the caller commits or checkpoints only after that.
 */
export interface Sink {
  send(batch: BatchOutcomes): Promise<void>;
}

/** What the pipeline reports. Observers (metrics, logs) listen; the pipeline does not know them. */
export interface PipelineObserver {
  /** Events of a batch routed to `model` ('' for those that match no route). */
  batchReceived?(topic: string, partition: number, events: number, model: string): void;
  batchScored?(rows: number, seconds: number, model: string, version: string): void;
  /** Predictions of one batch the broker acknowledged, all by `model` (its primary or canary version). */
  predictionsPublished?(count: number, oldestEventTimestampMs: number, model: string, topic: string, partition: number): void;
  /** Dead letters the broker acknowledged, by reason, of `model` ('' for events that matched no route). */
  deadLettered?(reason: PoisonReason, count: number, model: string): void;
  /** The rows of one scoring call (as the model's row format holds them), for input statistics such as drift. */
  rowsScored?(model: LiveModel, input: ModelInput, rows: number): void;
  /** Produce timestamps (ms) of the events whose predictions the broker acknowledged at `acknowledgedAtMs`. */
  predictionsAcknowledged?(eventTimestampsMs: Float64Array, acknowledgedAtMs: number, model: string): void;
  /** Shadow scoring of one batch: how many agreed with the primary, and the score differences. */
  shadowCompared?(agree: number, disagree: number, scoreDiffs: readonly number[], model: string): void;
  /** Events a canary could not score (it lacks a feature they miss) that the primary scored instead. */
  canaryFallback?(count: number, model: string): void;
  /** Every outcome of one batch, once the sink has them (the event log writes a line per event from these). */
  batchDelivered?(batch: BatchOutcomes): void;
}
