/**
 * The part of @confluentinc/kafka-javascript's native API (the node-rdkafka style one) this
 * adapter uses, typed here rather than imported: the package is an optional dependency that a
 * plain `npm ci` leaves out where its addon cannot be built, and the type check and lint must
 * pass there too. Shapes follow the package's types/rdkafka.d.ts (1.10.1), plus methods its
 * lib/kafka-consumer.js has but the .d.ts leaves out (incrementalAssign, incrementalUnassign,
 * rebalanceProtocol, assignmentLost, commitCb, setDefaultIsTimeoutOnlyForFirstMessage).
 * test/kafka/librdkafka/native.test.ts checks these methods exist on the real classes.
 */
import { ConfigError, errorMessage } from '../../errors.js';

export const PACKAGE = '@confluentinc/kafka-javascript';

export interface NativeError {
  message: string;
  code: number;
  origin?: string;
  isFatal?: boolean;
  isRetriable?: boolean;
  isTxnRequiresAbort?: boolean;
}

export type Callback<T = void> = (err: NativeError | null | undefined, value: T) => void;

export interface NativeTopicPartition {
  topic: string;
  partition: number;
  offset?: number;
  error?: NativeError;
}

export interface NativeTopicPartitionOffset extends NativeTopicPartition {
  offset: number;
}

export type NativeHeader = Record<string, Buffer | string>;

export interface NativeMessage {
  value: Buffer | null;
  key?: Buffer | string | null;
  topic: string;
  partition: number;
  offset: number;
  timestamp?: number;
  headers?: NativeHeader[];
  size: number;
}

export interface DeliveryReport {
  topic: string;
  partition: number;
  offset: number;
}

export interface LogEvent {
  severity: number;
  fac: string;
  message: string;
}

/** Configuration values: strings, numbers, booleans and the callbacks the binding knows. */
export type NativeConfig = Record<string, unknown>;

interface NativeClient {
  connect(options: { timeout?: number }, cb: Callback<unknown>): this;
  disconnect(cb: Callback<unknown>): this;
  isConnected(): boolean;
  on(event: 'event.error', listener: (err: NativeError) => void): this;
  on(event: 'event.log', listener: (log: LogEvent) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  queryWatermarkOffsets(topic: string, partition: number, timeout: number, cb: Callback<{ lowOffset: number; highOffset: number }>): void;
}

export interface NativeConsumer extends NativeClient {
  subscribe(topics: string[]): this;
  consume(count: number, cb: Callback<NativeMessage[]>): void;
  setDefaultConsumeTimeout(ms: number): void;
  setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void;
  assign(assignments: NativeTopicPartition[]): this;
  unassign(): this;
  incrementalAssign(assignments: NativeTopicPartition[]): this;
  incrementalUnassign(assignments: NativeTopicPartition[]): this;
  rebalanceProtocol(): 'NONE' | 'EAGER' | 'COOPERATIVE';
  assignmentLost(): boolean;
  assignments(): NativeTopicPartition[];
  pause(partitions: NativeTopicPartition[]): void;
  resume(partitions: NativeTopicPartition[]): void;
  /** The next offset per partition; `offset` is absent while none is known. */
  position(partitions?: NativeTopicPartition[]): NativeTopicPartition[];
  commitCb(offsets: NativeTopicPartitionOffset[], cb: (err: NativeError | null) => void): this;
}

export interface NativeProducer extends NativeClient {
  produce(topic: string, partition: number | null, value: Buffer | null, key: Buffer | string | null, timestamp: number | null, opaque: unknown, headers?: NativeHeader[]): void;
  on(event: 'delivery-report', listener: (err: NativeError | null | undefined, report: DeliveryReport) => void): this;
  on(event: 'event.error', listener: (err: NativeError) => void): this;
  on(event: 'event.log', listener: (log: LogEvent) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  setPollInBackground(on: boolean): void;
  flush(timeout: number, cb: (err: NativeError | null | undefined) => void): this;
  disconnect(timeout: number, cb: Callback<unknown>): this;
  disconnect(cb: Callback<unknown>): this;
  initTransactions(timeout: number, cb: (err: NativeError | null | undefined) => void): void;
  beginTransaction(cb: (err: NativeError | null | undefined) => void): void;
  commitTransaction(timeout: number, cb: (err: NativeError | null | undefined) => void): void;
  abortTransaction(timeout: number, cb: (err: NativeError | null | undefined) => void): void;
  sendOffsetsToTransaction(offsets: NativeTopicPartitionOffset[], consumer: NativeConsumer, timeout: number, cb: (err: NativeError | null | undefined) => void): void;
}

export interface TopicDescription {
  name: string;
  partitions: { partition: number; leader: { id: number } | null }[];
  error?: NativeError;
}

export interface ListOffsetsResult {
  topic: string;
  partition: number;
  offset: number;
  error?: NativeError;
}

export interface GroupOffsets {
  groupId: string;
  error?: NativeError;
  partitions: NativeTopicPartitionOffset[];
}

export interface DeleteGroupResult {
  groupId: string;
  errorCode?: number;
  error?: NativeError;
}

export interface NativeAdmin {
  on(event: 'event.error', listener: (err: NativeError) => void): this;
  on(event: 'event.log', listener: (log: LogEvent) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  createTopic(topic: { topic: string; num_partitions: number; replication_factor: number; config?: Record<string, string> }, timeout: number, cb: (err: NativeError | null | undefined) => void): void;
  deleteTopic(topic: string, timeout: number, cb: (err: NativeError | null | undefined) => void): void;
  listTopics(options: { timeout: number }, cb: Callback<string[]>): void;
  describeTopics(topics: string[], options: { timeout: number }, cb: Callback<TopicDescription[]>): void;
  listOffsets(partitions: { topic: string; partition: number; offset: unknown }[], options: { timeout: number; isolationLevel: number }, cb: Callback<ListOffsetsResult[]>): void;
  listConsumerGroupOffsets(groups: { groupId: string; partitions?: NativeTopicPartition[] }[], options: { timeout: number }, cb: Callback<GroupOffsets[]>): void;
  deleteGroups(groupIds: string[], options: { timeout: number }, cb: Callback<DeleteGroupResult[]>): void;
  disconnect(): void;
}

export interface NativeModule {
  KafkaConsumer: new (config: NativeConfig, topicConfig: NativeConfig) => NativeConsumer;
  Producer: new (config: NativeConfig, topicConfig: NativeConfig) => NativeProducer;
  AdminClient: {
    create(config: NativeConfig): NativeAdmin;
    createFrom(client: NativeProducer | NativeConsumer): NativeAdmin;
  };
  OffsetSpec: { new (timestamp: number): unknown; EARLIEST: unknown; LATEST: unknown };
  IsolationLevel: { READ_UNCOMMITTED: number; READ_COMMITTED: number };
  librdkafkaVersion: string;
  features: string[];
}

let loaded: Promise<NativeModule> | undefined;

/**
 * The package's default export (its only form that works under Node's ESM loader). A missing or
 * unbuilt addon is a configuration problem of the machine: a `ConfigError` says what to run.
 */
export function loadNative(): Promise<NativeModule> {
  // A variable specifier: the type check must not need the optional package.
  const specifier: string = PACKAGE;
  loaded ??= import(specifier).then(
    (m: { default: NativeModule }) => m.default,
    (err: unknown) => {
      loaded = undefined;
      throw new ConfigError(`KSCORE_KAFKA_CLIENT=librdkafka needs the native addon of ${PACKAGE}: run scripts/kafka-native (it failed to load: ${firstLine(errorMessage(err))})`);
    },
  );
  return loaded;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}

/** A callback API call as a promise. */
export function call<T>(fn: (cb: Callback<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}
