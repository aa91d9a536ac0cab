import type { Logger } from 'pino';
import { errorMessage, asError } from '../../errors.js';
import { KAFKA_CODES, RangeGoneError } from '../errors.js';
import type { RangeReader, RangeReaderOptions, RecordBatch } from '../types.js';
import { ConnectionWatch, connectNative } from './config.js';
import { fromLibrdkafka, nativeCode, RD } from './errors.js';
import type { NativeConfig, NativeConsumer, NativeMessage, NativeModule } from './native.js';
import { toRecords } from './records.js';

type RangeBatchHandler = (batch: RecordBatch, next: number) => Promise<void>;

const CONSUME_BATCH = 500;
const CONSUME_TIMEOUT_MS = 100;
/** A read that makes no progress this long checks whether its records are still in the log. */
const STALL_CHECK_MS = 5_000;
const QUERY_TIMEOUT_MS = 10_000;

/**
 * The bounded source over librdkafka: `assign()` at the range's start (no group is joined, though
 * librdkafka insists on a group id; nothing is committed), one partition and one range at a time.
 * Records outside `[start, end)` are dropped (a fetch runs past the end). The end is reached when
 * `position()` is at or past it: the position moves past transaction markers, aborted records and
 * compacted gaps too, so a range that ends on one finishes without its last offset being a
 * record. A start below the log start (records deleted by retention) is a `RangeGoneError`, as
 * with the kafkajs reader: librdkafka's `auto.offset.reset=error` reports it.
 */
export class LibrdkafkaRangeReader implements RangeReader {
  private reading: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly native: NativeConsumer,
    private readonly topic: string,
    private readonly log: Logger,
  ) {}

  static async open(rd: NativeModule, base: NativeConfig, options: RangeReaderOptions, log: Logger): Promise<LibrdkafkaRangeReader> {
    const config: NativeConfig = {
      ...base,
      'group.id': options.groupId,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'isolation.level': options.readCommitted ? 'read_committed' : 'read_uncommitted',
      'max.partition.fetch.bytes': options.maxBytesPerPartition,
      'fetch.max.bytes': Math.max(options.maxBytesPerPartition * 2, 52_428_800),
      'fetch.wait.max.ms': options.maxWaitMs ?? 100,
      'allow.auto.create.topics': false,
    };
    const native = new rd.KafkaConsumer(config, { 'auto.offset.reset': 'error' });
    const watch = new ConnectionWatch(native, log);
    await connectNative(native, watch, `reading ${options.topic}`);
    native.setDefaultConsumeTimeout(CONSUME_TIMEOUT_MS);
    native.setDefaultIsTimeoutOnlyForFirstMessage(true);
    return new LibrdkafkaRangeReader(native, options.topic, log);
  }

  read(partition: number, start: number, end: number, onBatch: RangeBatchHandler): Promise<void> {
    if (this.reading !== undefined) return Promise.reject(new Error('RangeReader reads one range at a time'));
    if (this.closed) return Promise.reject(new Error('RangeReader is closed'));
    if (start >= end) return Promise.resolve();
    const done = this.readRange(partition, start, end, onBatch).finally(() => {
      this.reading = undefined;
    });
    this.reading = done.catch(() => undefined);
    return done;
  }

  private async readRange(partition: number, start: number, end: number, onBatch: RangeBatchHandler): Promise<void> {
    const { native, topic } = this;
    native.assign([{ topic, partition, offset: start }]);
    let next = start;
    let progressAt = Date.now();
    try {
      while (next < end) {
        if (this.closed) throw new Error('RangeReader closed during a read');
        let messages: NativeMessage[];
        try {
          messages = await new Promise<NativeMessage[]>((resolve, reject) => native.consume(CONSUME_BATCH, (err, m) => (err ? reject(err) : resolve(m))));
        } catch (err) {
          if (nativeCode(err) === RD.AUTO_OFFSET_RESET) throw await this.gone(partition, next);
          const error = fromLibrdkafka(err, `reading partition ${partition} of ${topic}`);
          if (error.code === KAFKA_CODES.authorization || error.code === KAFKA_CODES.unknownTopic) throw error;
          this.log.warn({ err: error }, 'fetch failed; librdkafka retries');
          continue;
        }
        const batch: NativeMessage[] = [];
        for (const m of messages) if (m.partition === partition && m.topic === topic && m.offset >= next && m.offset < end) batch.push(m);
        let after = batch.length > 0 ? batch[batch.length - 1]!.offset + 1 : next;
        // Past markers, aborted records and compacted gaps: the position says how far the log was read.
        const position = native.position([{ topic, partition }])[0]?.offset;
        if (position !== undefined && position > after) after = Math.min(end, position);
        if (after > next || batch.length > 0) {
          next = after;
          progressAt = Date.now();
          await onBatch({ topic, partition, messages: toRecords(batch) }, next);
        } else if (Date.now() - progressAt > STALL_CHECK_MS) {
          progressAt = Date.now();
          const low = await this.lowWatermark(partition);
          if (low !== undefined && low > next) throw await this.gone(partition, next);
        }
      }
    } finally {
      try {
        native.unassign();
      } catch (err) {
        this.log.debug({ err: asError(err) }, 'unassign failed');
      }
    }
  }

  private async gone(partition: number, next: number): Promise<RangeGoneError> {
    const low = await this.lowWatermark(partition);
    const what = low !== undefined && low > next ? `offsets ${next} to ${low - 1} are no longer in the log` : `offset ${next} is out of the log's range`;
    return new RangeGoneError(`partition ${partition} of ${this.topic}: ${what}`);
  }

  private lowWatermark(partition: number): Promise<number | undefined> {
    return new Promise((resolve) => this.native.queryWatermarkOffsets(this.topic, partition, QUERY_TIMEOUT_MS, (err, w) => resolve(err ? undefined : w.lowOffset)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.reading;
    await new Promise((r) => this.native.disconnect(r));
  }
}
