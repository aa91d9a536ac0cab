import type { Logger } from 'pino';
import { KAFKA_CODES, KafkaError, kafkaError } from '../errors.js';
import type { Compression, GroupConsumer, OutgoingRecord, Producer, ProducerOptions, Transaction } from '../types.js';
import { ConnectionWatch, connectNative } from './config.js';
import { DeliveryTracker, PendingSend, partitionForKey } from './delivery.js';
import { fromLibrdkafka, isQueueFull, RD } from './errors.js';
import { nativeConsumerOf } from './group-consumer.js';
import { NativeHeaders } from './records.js';
import { call, type TopicDescription, type NativeAdmin, type NativeConfig, type NativeConsumer, type NativeModule, type NativeProducer } from './native.js';

/** A topic's partition count is looked up again after this long (partitions may be added). */
const METADATA_TTL_MS = 5 * 60_000;
/** A failed look-up (missing or refused topic) is remembered this long: sends to it fail fast. */
const METADATA_FAILURE_TTL_MS = 5_000;
const LOOKUP_ATTEMPTS = 5;
const CALL_TIMEOUT_MS = 30_000;

type TopicInfo = { partitions: number; at: number } | { error: KafkaError; at: number };

/** A send waiting to be (or being) handed to librdkafka; `next` is its first record not handed yet. */
interface Job {
  readonly records: readonly OutgoingRecord[];
  readonly send: PendingSend;
  next: number;
  /** Per topic, the partition this send's unkeyed records go to (sticky, like Java's producer). */
  sticky?: Map<string, number>;
}

/**
 * The producer port over librdkafka's native Producer (acks=all, idempotent by default). Records
 * are handed over in the order of the `send` calls: when librdkafka's queue is full
 * (backpressure) or a topic's partition count is being looked up, later sends wait behind, so
 * per-partition order is the call order. Completion is tracked per partition (delivery.ts).
 */
export class LibrdkafkaProducer implements Producer {
  private readonly tracker = new DeliveryTracker();
  private readonly headers = new NativeHeaders();
  private readonly backlog: Job[] = [];
  private readonly topics = new Map<string, TopicInfo>();
  private readonly lookups = new Map<string, Promise<void>>();
  private admin: NativeAdmin | undefined;
  private waitingForRoom = false;
  private wakeScheduled = false;
  private closed = false;
  private inTransaction = false;
  private initialised: Promise<void> | undefined;
  /** Consumers made only to carry a group's metadata into a transaction (see `sendOffsets`). */
  private readonly groupHandles = new Map<string, Promise<NativeConsumer>>();

  private constructor(
    private readonly rd: NativeModule,
    private readonly producer: NativeProducer,
    private readonly base: NativeConfig,
    private readonly options: ProducerOptions,
    private readonly log: Logger,
  ) {
    producer.on('delivery-report', (err, report) => {
      const error = err ? fromLibrdkafka(err, `delivering to ${report.topic}`) : undefined;
      if (!this.tracker.reported(report.topic, report.partition, error)) log.warn({ topic: report.topic, partition: report.partition }, 'delivery report for no pending record');
      if (this.waitingForRoom) this.scheduleWake();
    });
  }

  static async connect(rd: NativeModule, base: NativeConfig, options: ProducerOptions, log: Logger): Promise<LibrdkafkaProducer> {
    const idempotent = (options.idempotent ?? true) || options.transactionalId !== undefined;
    const config: NativeConfig = {
      ...base,
      'enable.idempotence': idempotent,
      // Without idempotence, one request in flight keeps retried records in order (and the delivery FIFOs right).
      ...(idempotent ? {} : { 'max.in.flight.requests.per.connection': 1 }),
      'compression.codec': options.compression ?? 'none',
      'linger.ms': options.lingerMs ?? 5,
      'allow.auto.create.topics': false,
      ...(options.transactionalId === undefined ? {} : { 'transactional.id': options.transactionalId }),
      dr_cb: true,
    };
    // Topic-level settings go in the topic configuration: the binding's replaces any given globally.
    const topicConfig: NativeConfig = { 'request.required.acks': -1, partitioner: 'murmur2_random' };
    let native: NativeProducer;
    try {
      native = new rd.Producer(config, topicConfig);
    } catch (err) {
      throw fromLibrdkafka(err, 'configuring the producer');
    }
    const watch = new ConnectionWatch(native, log);
    await connectNative(native, watch, 'connecting the producer');
    // Delivery reports are served by a librdkafka thread and reach JS through the event loop.
    native.setPollInBackground(true);
    const producer = new LibrdkafkaProducer(rd, native, base, options, log);
    // Now, not at the first transaction: initialising aborts what a killed predecessor of the same
    // transactional id left open, and until then the group's committed offsets are unstable, so a
    // consumer of that group (read_committed) cannot start reading; lazily, that is a deadlock
    // lasting until the broker's transaction timeout. (kafkajs initialises at connect too.)
    if (options.transactionalId !== undefined) {
      await producer.initTransactions().catch(async (err: unknown) => {
        await producer.close();
        throw err;
      });
    }
    return producer;
  }

  send(records: readonly OutgoingRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new KafkaError(KAFKA_CODES.other, 'the producer is closed'));
    const job: Job = { records, send: new PendingSend(records.length), next: 0 };
    if (this.backlog.length > 0 || !this.produce(job)) this.backlog.push(job);
    return job.send.promise;
  }

  /** Hands a job's records to librdkafka; false when it has to wait (it is woken by `pump`). */
  private produce(job: Job): boolean {
    const { records, send } = job;
    const now = Date.now();
    for (; job.next < records.length; job.next++) {
      const r = records[job.next]!;
      const info = this.topics.get(r.topic);
      if (info === undefined || ('error' in info && now - info.at > METADATA_FAILURE_TTL_MS)) {
        void this.lookup(r.topic).then(() => this.pump());
        return false;
      }
      if ('error' in info) {
        send.done(job.next, info.error);
        continue;
      }
      if (now - info.at > METADATA_TTL_MS) void this.lookup(r.topic);
      const key = typeof r.key === 'string' ? Buffer.from(r.key) : r.key;
      const partition = r.partition ?? (key === null ? sticky(job, r.topic, info.partitions) : partitionForKey(key, info.partitions));
      try {
        this.producer.produce(r.topic, partition, typeof r.value === 'string' ? Buffer.from(r.value) : r.value, key, r.timestamp === undefined ? null : Number(r.timestamp), null, this.headers.of(r.headers));
      } catch (err) {
        if (isQueueFull(err)) {
          this.waitForRoom();
          return false;
        }
        send.done(job.next, fromLibrdkafka(err, `producing to ${r.topic}`));
        continue;
      }
      this.tracker.produced(send, r.topic, partition, job.next);
    }
    return true;
  }

  /** Continues the waiting sends, in order, until one has to wait again. */
  private pump(): void {
    while (this.backlog.length > 0) {
      if (!this.produce(this.backlog[0]!)) return;
      this.backlog.shift();
    }
  }

  /** The queue is full: go on once deliveries made room (or after a short wait, whichever is first). */
  private waitForRoom(): void {
    this.waitingForRoom = true;
    setTimeout(() => this.scheduleWake(), 25).unref();
  }

  private scheduleWake(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      if (!this.waitingForRoom) return;
      this.waitingForRoom = false;
      this.pump();
    });
  }

  /** Looks up a topic's partition count (describeTopics, which names the error of a missing or refused topic). */
  private lookup(topic: string): Promise<void> {
    let pending = this.lookups.get(topic);
    if (pending !== undefined) return pending;
    pending = this.describe(topic)
      .then((info) => void this.topics.set(topic, info))
      .finally(() => this.lookups.delete(topic));
    this.lookups.set(topic, pending);
    return pending;
  }

  private async describe(topic: string): Promise<TopicInfo> {
    this.admin ??= this.rd.AdminClient.createFrom(this.producer);
    const admin = this.admin;
    let error: KafkaError | undefined;
    for (let attempt = 1; attempt <= LOOKUP_ATTEMPTS; attempt++) {
      let failure: unknown;
      try {
        const [found] = await call<TopicDescription[]>((cb) => admin.describeTopics([topic], { timeout: CALL_TIMEOUT_MS }, cb));
        if (found?.error !== undefined && found.error.code !== 0) failure = found.error;
        else if (found !== undefined && found.partitions.length > 0) return { partitions: found.partitions.length, at: Date.now() };
        else failure = { code: RD.UNKNOWN_TOPIC_OR_PART, message: 'Broker: Unknown topic or partition' };
      } catch (err) {
        failure = err;
      }
      error = fromLibrdkafka(failure, `producing to ${topic}`);
      // A topic just created may not be in the metadata yet: missing topics are asked again too.
      if (!(error.canRetry || error.code === KAFKA_CODES.unknownTopic)) break;
      if (attempt < LOOKUP_ATTEMPTS) await sleep(100 * 2 ** attempt);
    }
    return { error: error!, at: Date.now() };
  }

  async transaction(): Promise<Transaction> {
    if (this.options.transactionalId === undefined) throw new KafkaError(KAFKA_CODES.invalidConfig, 'a transaction needs a producer made with a transactionalId');
    if (this.inTransaction) throw new KafkaError(KAFKA_CODES.other, 'a transaction is open already on this producer');
    const p = this.producer;
    await this.initTransactions();
    await this.txnCall('beginning a transaction', (cb) => p.beginTransaction(cb));
    this.inTransaction = true;
    const end = async (what: string, fn: (cb: (err: unknown) => void) => void): Promise<void> => {
      await this.txnCall(what, fn);
      this.inTransaction = false;
    };
    return {
      send: (records) => this.send(records),
      sendOffsets: async (groupId, offsets, consumer) => {
        const handle = await this.groupHandle(groupId, consumer);
        const list = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) }));
        await this.txnCall('adding offsets to the transaction', (cb) => p.sendOffsetsToTransaction(list, handle, CALL_TIMEOUT_MS, cb));
      },
      commit: () => end('committing the transaction', (cb) => p.commitTransaction(CALL_TIMEOUT_MS, cb)),
      abort: () => end('aborting the transaction', (cb) => p.abortTransaction(CALL_TIMEOUT_MS, cb)),
    };
  }

  /** Once per producer; a failed attempt is made again by the next call. */
  private initTransactions(): Promise<void> {
    const p = this.producer;
    this.initialised ??= this.txnCall('initialising transactions', (cb) => p.initTransactions(CALL_TIMEOUT_MS, cb)).catch((err: unknown) => {
      this.initialised = undefined;
      throw err;
    });
    return this.initialised;
  }

  /**
   * What librdkafka takes for a group's offsets in a transaction: a consumer, whose group metadata
   * (generation, member id) lets the broker fence a member that lost its partitions (KIP-447).
   * Given the service's librdkafka GroupConsumer of that group, that is the one; otherwise a
   * consumer of the group that never joins it, which carries only the group id (the broker then
   * checks no generation, as with kafkajs).
   */
  private async groupHandle(groupId: string, consumer: GroupConsumer | undefined): Promise<NativeConsumer> {
    const own = consumer === undefined ? undefined : nativeConsumerOf(consumer, groupId);
    if (own !== undefined) return own;
    let handle = this.groupHandles.get(groupId);
    if (handle === undefined) {
      const native = new this.rd.KafkaConsumer({ ...this.base, 'group.id': groupId, 'enable.auto.commit': false }, {});
      const watch = new ConnectionWatch(native, this.log);
      handle = connectNative(native, watch, `connecting for group ${groupId}`).then(() => native);
      handle.catch(() => this.groupHandles.delete(groupId));
      this.groupHandles.set(groupId, handle);
    }
    return handle;
  }

  private async txnCall(what: string, fn: (cb: (err: unknown) => void) => void): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
    } catch (err) {
      throw fromLibrdkafka(err, what);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Sends accepted already get handed over first (bounded), then librdkafka flushes on disconnect.
    for (let waited = 0; this.backlog.length > 0 && waited < 10_000; waited += 20) await sleep(20);
    const closing = kafkaError(KAFKA_CODES.unavailable, 'the producer closed before the record was acknowledged');
    for (const job of this.backlog.splice(0)) for (let i = job.next; i < job.records.length; i++) job.send.done(i, closing);
    for (const handle of this.groupHandles.values()) {
      const c = await handle.catch(() => undefined);
      if (c !== undefined) await new Promise((r) => c.disconnect(r));
    }
    await new Promise((r) => this.producer.disconnect(10_000, r));
    // Reports emitted during the flush may still be on their way to the event loop.
    for (let i = 0; i < 50 && this.tracker.pending > 0; i++) await sleep(10);
    this.tracker.failAll(closing);
  }
}

function sticky(job: Job, topic: string, partitions: number): number {
  job.sticky ??= new Map();
  let p = job.sticky.get(topic);
  if (p === undefined) job.sticky.set(topic, (p = Math.floor(Math.random() * partitions)));
  return p;
}

/** The port's compression names are librdkafka's. */
export const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
