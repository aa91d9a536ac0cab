/**
 * The Kafka port: everything the service does with Kafka, and nothing more. Two adapters
 * implement it (kafkajs, the default, and librdkafka through @confluentinc/kafka-javascript);
 * nothing outside src/kafka/ imports a Kafka client package. Offsets of records are strings (the
 * form kafkajs hands out, and what headers carry); offsets in admin answers are numbers.
 */
import type { KafkaError } from './errors.js';

export type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;
export type Headers = Record<string, HeaderValue>;

/** A record read from a topic. */
export interface KafkaRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Headers>;
  readonly offset: string;
  /** Milliseconds since the epoch, as a string. */
  readonly timestamp: string;
}

/** Consecutive records of one partition, in offset order. */
export interface RecordBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly KafkaRecord[];
}

/** A batch as a consumer fetched it: `nextOffset` is past its last record and any control records after it. */
export interface FetchedBatch extends RecordBatch {
  readonly nextOffset: string;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  /** The next offset to read. */
  readonly offset: string;
}

// ------------------------------------------------------------------------------------ consumer

export interface GroupConsumerOptions {
  groupId: string;
  topics: readonly string[];
  /** Where a group without committed offsets starts. */
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  maxBytesPerPartition: number;
  /** Partitions whose batches may be handed out at once. */
  partitionsConcurrently: number;
  /** Only records of committed transactions, none of aborted ones (Kafka's read_committed; what the service uses). */
  readCommitted: boolean;
  /** Longest the broker holds a fetch waiting for data, in ms. Default 100. */
  maxWaitMs?: number;
}

export interface GroupHandlers {
  /**
   * A fetched batch. The consumer fetches that partition again once the returned promise
   * resolves; it keeps the group membership alive (heartbeats) while it waits.
   */
  batch(batch: FetchedBatch): Promise<void>;
  /** Partitions given to this member (after a join). */
  assigned(partitions: readonly TopicPartition[]): void;
  /**
   * Partitions taken away. Awaited before they move where the client allows it (librdkafka);
   * kafkajs reports them after the group was joined again.
   */
  revoked(partitions: readonly TopicPartition[]): Promise<void>;
  /** The consumer stopped for good (a fatal error: authorisation, a missing topic, ...). */
  failed(error: KafkaError): void;
}

/** A member of a consumer group. Offsets are committed only by `commit`, never automatically. */
export interface GroupConsumer {
  /** Connects, subscribes and starts handing out batches; resolves once consuming has begun. */
  run(handlers: GroupHandlers): Promise<void>;
  /** Commits the given offsets for the group (the next offset to read, per partition). */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /**
   * Stops fetching (no batch is handed out any more), runs `beforeLeave` (finish the work in
   * flight and `commit` it), then leaves the group. Idempotent.
   */
  stop(beforeLeave?: () => Promise<void>): Promise<void>;
  /** Whether it is in the group and fetching, and if not, why. */
  health(): { ok: boolean; detail?: string };
}

/**
 * A bounded source: reads exact ranges `[start, end)` of one topic's partitions, one range at a
 * time, without committing and without moving any consumer group's offsets.
 */
export interface RangeReader {
  /**
   * Hands every record of `[start, end)` of `partition` to `onBatch`, in order; `next` is the
   * offset after the batch. Resolves when the last batch was handed over. The handler may return
   * before it processed the batch, which lets the next fetch overlap with it.
   */
  read(partition: number, start: number, end: number, onBatch: (batch: RecordBatch, next: number) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export interface RangeReaderOptions {
  topic: string;
  /** A group id the reader may use for itself (kafkajs needs one to fetch); never committed. */
  groupId: string;
  maxBytesPerPartition: number;
  maxWaitMs?: number;
  /** Skip records of aborted transactions (read_committed). */
  readCommitted: boolean;
}

// ------------------------------------------------------------------------------------ producer

export interface OutgoingRecord {
  readonly topic: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | string;
  readonly headers?: Headers;
  /** Milliseconds since the epoch, as a string; default: now. */
  readonly timestamp?: string;
  readonly partition?: number;
}

export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface ProducerOptions {
  /** The broker drops a retried request's duplicates and keeps order per partition. Default true. */
  idempotent?: boolean;
  /** Default none. An adapter refuses one it cannot write. */
  compression?: Compression;
  /** For a transactional producer (exactly-once): the id that fences its previous incarnations. */
  transactionalId?: string;
  /** Most time records wait to be grouped into a request, in ms (librdkafka `linger.ms`). */
  lingerMs?: number;
}

/**
 * Writes records with acks from all in-sync replicas. `send` resolves when every record is
 * acknowledged; when some are not, it rejects with a `DeliveryError` that lists them by index
 * (the others are acknowledged).
 */
export interface Producer {
  send(records: readonly OutgoingRecord[]): Promise<void>;
  /** Begins a transaction (only when the client's `capabilities.transactions` is true). */
  transaction(): Promise<Transaction>;
  close(): Promise<void>;
}

export interface Transaction {
  send(records: readonly OutgoingRecord[]): Promise<void>;
  /**
   * Adds a consumer group's offsets to the transaction: committed with it, or not at all.
   * `consumer` is the group member the offsets come from: librdkafka sends its group metadata
   * (generation and member id), so the broker refuses the offsets of a member that lost its
   * partitions (KIP-447); without it only the group id is sent. kafkajs ignores it.
   */
  sendOffsets(groupId: string, offsets: readonly TopicPartitionOffset[], consumer?: GroupConsumer): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

// ------------------------------------------------------------------------------------ admin

export interface PartitionOffsets {
  partition: number;
  /** First offset still in the log. */
  low: number;
  /**
   * The end a read_committed consumer reads to: the last stable offset (the high watermark when
   * no transaction is open).
   */
  high: number;
}

export interface Admin {
  listTopics(): Promise<string[]>;
  /** Creates the topics that are missing (with `config`, topic-level settings); existing ones are left as they are. */
  ensureTopics(topics: readonly string[], partitions: number, config?: Readonly<Record<string, string>>): Promise<void>;
  deleteTopics(topics: readonly string[]): Promise<void>;
  /** Partition ids of a topic; a `KafkaError` with code `KAFKA_UNKNOWN_TOPIC` when it does not exist. */
  partitions(topic: string): Promise<number[]>;
  watermarks(topic: string): Promise<PartitionOffsets[]>;
  /** Per partition, the first offset whose timestamp is at or after `timestampMs` (the high watermark when none is). */
  offsetsForTime(topic: string, timestampMs: number): Promise<{ partition: number; offset: number }[]>;
  /** The group's committed offsets on a topic; -1 where it has none. */
  committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: number }[]>;
  deleteGroups(groupIds: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------ client

export type KafkaClientName = 'kafkajs' | 'librdkafka';

export interface KafkaCapabilities {
  /** Transactions (exactly-once) are available. */
  readonly transactions: boolean;
  /** Compression codecs the producer can write. */
  readonly compression: readonly Compression[];
}

/** One Kafka client: connections made from it share its settings (brokers, security). */
export interface KafkaClient {
  readonly name: KafkaClientName;
  readonly capabilities: KafkaCapabilities;
  /** A connected admin client. */
  admin(): Promise<Admin>;
  groupConsumer(options: GroupConsumerOptions): GroupConsumer;
  rangeReader(options: RangeReaderOptions): Promise<RangeReader>;
  /** A connected producer. */
  producer(options?: ProducerOptions): Promise<Producer>;
}
