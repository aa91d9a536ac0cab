import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { RangeGoneError } from '../errors.js';
import type { RangeReader, RangeReaderOptions, RecordBatch } from '../types.js';
import { fromKafkajs } from './errors.js';

type RangeBatchHandler = (batch: RecordBatch, next: number) => Promise<void>;

interface Active {
  partition: number;
  /** The next offset expected from the broker. */
  fetchNext: number;
  end: number;
  onBatch: RangeBatchHandler;
  resolve: () => void;
  reject: (err: unknown) => void;
  gapAt: number | undefined;
}

/**
 * The bounded source over kafkajs: reads exact offset ranges of one topic, one range at a time.
 * kafkajs has no manual assignment, so the reader joins a group of its own (it gets every
 * partition), seeks, and pauses what it is not reading. It never commits: no other group's
 * offsets, and not even its own, are ever written. Records before the range's start (a fetch may
 * begin earlier) and from its end on are dropped here, so a caller sees exactly `[start, end)`.
 */
export class KafkajsRangeReader implements RangeReader {
  private active: Active | undefined;
  private partitions: number[] = [];
  private joins = 0;
  private closed = false;
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly consumer: Consumer,
    private readonly options: RangeReaderOptions,
    private readonly log: Logger,
  ) {}

  static async open(kafka: Kafka, options: RangeReaderOptions, log: Logger): Promise<KafkajsRangeReader> {
    const consumer = kafka.consumer({
      groupId: options.groupId,
      maxBytesPerPartition: options.maxBytesPerPartition,
      maxBytes: Math.max(options.maxBytesPerPartition * 2, 16 * 1024 * 1024),
      maxWaitTimeInMs: options.maxWaitMs ?? 100,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      readUncommitted: !options.readCommitted,
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 200 },
    });
    const reader = new KafkajsRangeReader(consumer, options, log);
    consumer.on(consumer.events.GROUP_JOIN, (e) => reader.onJoin(e.payload.memberAssignment));
    // Fetches that hold only control records (transaction markers) or aborted records never reach
    // eachBatch; they still move the position, which matters when the range ends on them.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      if (e.payload.batchSize === 0) reader.onEmpty(e.payload.partition, Number(e.payload.lastOffset));
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: options.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => reader.onBatch(payload),
      });
      consumer.pause([{ topic: options.topic }]);
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw fromKafkajs(err, `reading ${options.topic}`);
    }
    return reader;
  }

  /** Hands every record of `[start, end)` of `partition` to `onBatch`; resolves when the last was handed over. */
  read(partition: number, start: number, end: number, onBatch: RangeBatchHandler): Promise<void> {
    if (this.active !== undefined) return Promise.reject(new Error('RangeReader reads one range at a time'));
    if (this.closed) return Promise.reject(new Error('RangeReader is closed'));
    if (start >= end) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.active = { partition, fetchNext: start, end, onBatch, resolve, reject, gapAt: undefined };
      this.consumer.seek({ topic: this.options.topic, partition, offset: String(start) });
      this.consumer.resume([{ topic: this.options.topic, partitions: [partition] }]);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const a = this.active;
    this.active = undefined;
    a?.reject(new Error('RangeReader closed during a read'));
    await this.consumer.disconnect();
  }

  private onJoin(assignment: Record<string, number[]>): void {
    this.partitions = [...(assignment[this.options.topic] ?? [])].sort((x, y) => x - y);
    // After a rejoin (a rebalance), kafkajs would start from the default offset: go back to ours.
    if (this.joins++ > 0 && this.active !== undefined) {
      this.log.warn({ partition: this.active.partition, offset: this.active.fetchNext }, 'rejoined the reader group; seeking back');
      this.consumer.seek({ topic: this.options.topic, partition: this.active.partition, offset: String(this.active.fetchNext) });
    }
  }

  private onEmpty(partition: number, lastOffset: number): void {
    const a = this.active;
    if (a === undefined || a.partition !== partition || !(lastOffset + 1 > a.fetchNext)) return;
    // Serialised behind batches handed over before it.
    this.chain = this.chain.then(() => this.accept(a, [], lastOffset)).catch((err: unknown) => this.fail(a, err));
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const a = this.active;
    if (a === undefined || batch.partition !== a.partition || this.closed) return;
    // kafkajs keeps the offset it asked for (not in its typings); messages before it are dropped.
    const fetched = Number((batch as { fetchedOffset?: string }).fetchedOffset ?? batch.firstOffset() ?? a.fetchNext);
    if (fetched > a.fetchNext) {
      // The broker skipped ahead (its log start moved past us, or kafkajs reset the position).
      if (a.gapAt === a.fetchNext) {
        this.fail(a, new RangeGoneError(`partition ${a.partition} of ${this.options.topic}: offsets ${a.fetchNext} to ${fetched - 1} are no longer in the log`));
        return;
      }
      a.gapAt = a.fetchNext;
      this.consumer.seek({ topic: this.options.topic, partition: a.partition, offset: String(a.fetchNext) });
      return;
    }
    const messages = batch.messages.filter((m) => {
      const o = Number(m.offset);
      return o >= a.fetchNext && o < a.end;
    });
    const last = Number(batch.lastOffset());
    // Handed over one after another (with any empty fetch seen meanwhile); a failure ends the read.
    this.chain = this.chain.then(() => this.accept(a, messages, last)).catch((err: unknown) => this.fail(a, err));
    await this.chain;
  }

  private async accept(a: Active, messages: RecordBatch['messages'], lastOffset: number): Promise<void> {
    if (this.active !== a) return;
    const next = Math.min(a.end, Math.max(a.fetchNext, lastOffset + 1));
    if (next <= a.fetchNext && messages.length === 0) return;
    a.fetchNext = next;
    a.gapAt = undefined;
    const done = next >= a.end;
    if (done) {
      this.consumer.pause([{ topic: this.options.topic }]);
      this.active = undefined;
    }
    await a.onBatch({ topic: this.options.topic, partition: a.partition, messages }, next);
    if (done) a.resolve();
  }

  private fail(a: Active, err: unknown): void {
    if (this.active === a) this.active = undefined;
    this.consumer.pause([{ topic: this.options.topic }]);
    a.reject(err);
  }
}
