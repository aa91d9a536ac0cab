import type { InputSettings, OutputSettings, RegistrySettings } from '../codec/index.js';
import type { Config, FeaturePath } from '../config/index.js';
import type { KafkaConnection } from '../kafka/index.js';
import type { InputSpec, OutputMapping } from '../scoring/types.js';
import type { CompareCounts, ComparePairs } from './compare.js';

/** A pinned version's bytes, as a thread loads it. */
export interface ThreadModel {
  name: string;
  version: string;
  bytes: Uint8Array;
  features: string[];
  /** The version's inputs as registered (absent: one float32 input of `features`). */
  inputs?: InputSpec[];
  outputs: OutputMapping;
}

export type ThreadOutput =
  | { kind: 'topic'; topic: string; deadLetterTopic: string }
  | { kind: 'file'; path: string }
  | { kind: 'compare'; labelField: string | undefined };

/** Everything a replay thread needs, sent once when it starts (structured-cloned). */
export interface ThreadInit {
  index: number;
  jobId: string;
  groupId: string;
  kafka: KafkaConnection;
  logLevel: Config['logLevel'];
  registry: RegistrySettings;
  /** How events are read and predictions written. */
  decoding: InputSettings;
  encoding: OutputSettings;
  provenance: Config['provenanceHeaders'];
  featuresField: string | undefined;
  featurePaths: readonly FeaturePath[];
  sourceTopic: string;
  model: ThreadModel;
  compare: ThreadModel | undefined;
  output: ThreadOutput;
  maxBatchSize: number;
  fetchBytes: number;
  inFlight: number;
  intraOpThreads: number;
}

/** A unit of work: `[start, end)` of one partition, minus offsets already in the output. */
export interface ThreadUnit {
  index: number;
  partition: number;
  start: number;
  end: number;
  skip: number[];
}

export type ToThread =
  | { type: 'unit'; unit: ThreadUnit }
  /** Start no new batch; answer `held` once the batches running are done and reported. */
  | { type: 'hold' }
  | { type: 'release' }
  /** Finish the batches running, report them, close and exit. */
  | { type: 'stop' };

export type FromThread =
  | { type: 'ready' }
  /** The unit's records were all fetched: the thread can take the next unit. */
  | { type: 'fetched'; unit: number }
  /**
   * Batches retired in order: every offset of `unit` below `next` is done. `records` were handed
   * to the pipeline, `alreadyWritten` skipped; `predictions` and `deadLetters` are the thread's
   * running totals.
   */
  | { type: 'progress'; unit: number; next: number; records: number; alreadyWritten: number; predictions: number; deadLetters: number }
  | { type: 'pairs'; pairs: ComparePairs; counts: CompareCounts }
  | { type: 'held' }
  | { type: 'stopped' }
  | { type: 'failed'; message: string; code: string | undefined };
