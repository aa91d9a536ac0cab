import type { PoisonReason } from '../errors.js';
import type { LiveModel } from '../scoring/types.js';

/** A record read from Kafka (or any bounded source), as the pipeline needs it. */
export interface SourceMessage {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;
  readonly offset: string;
  /** Milliseconds since the epoch, as a string (kafkajs' form). */
  readonly timestamp: string;
}

/** Consecutive records of one partition. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly SourceMessage[];
}

export interface OutputMessage {
  readonly topic: string;
  readonly key: Buffer | null;
  readonly value: Buffer | string;
  readonly headers: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

/** Where predictions and dead letters go. `send` resolves once the broker acknowledged them all. */
export interface Sink {
  send(messages: readonly OutputMessage[]): Promise<void>;
}

/** What the pipeline reports. Observers (metrics, logs) listen; the pipeline does not know them. */
export interface PipelineObserver {
  batchReceived?(topic: string, partition: number, events: number): void;
  batchScored?(rows: number, seconds: number, model: string, version: string): void;
  predictionsPublished?(count: number, oldestEventTimestampMs: number): void;
  deadLettered?(reason: PoisonReason, count: number): void;
  /** The rows of one scoring call (row-major, `rows` × features), for input statistics such as drift. */
  rowsScored?(model: LiveModel, input: Float32Array, rows: number): void;
  /** Produce timestamps (ms) of the events whose predictions the broker acknowledged at `acknowledgedAtMs`. */
  predictionsAcknowledged?(eventTimestampsMs: Float64Array, acknowledgedAtMs: number): void;
  /** Shadow scoring of one batch: how many agreed with the primary, and the score differences. */
  shadowCompared?(agree: number, disagree: number, scoreDiffs: readonly number[]): void;
}

/** Header names the service writes. */
export const HEADERS = {
  model: 'kscore-model',
  version: 'kscore-model-version',
  sourceTopic: 'kscore-source-topic',
  sourcePartition: 'kscore-source-partition',
  sourceOffset: 'kscore-source-offset',
  dlqReason: 'kscore-dlq-reason',
  dlqDetail: 'kscore-dlq-detail',
} as const;
