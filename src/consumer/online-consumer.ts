import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { PartitionBatch } from '../pipeline/types.js';

export interface OnlineConsumerOptions {
  groupId: string;
  topic: string;
  fromBeginning: boolean;
  partitionsConcurrently: number;
  maxBytesPerPartition: number;
  sessionTimeoutMs: number;
  /** Longest the broker holds a fetch waiting for data, in ms. */
  maxWaitMs: number;
}

/** What the consumer hands each fetched partition batch to; resolves when its outputs are acknowledged. */
export type BatchHandler = (batch: PartitionBatch) => Promise<void>;

/**
 * The online source: a consumer group over the features topic. Each fetched partition batch goes
 * to the handler; its offsets are committed only after the handler resolved, i.e. after every
 * prediction and dead letter of the batch was acknowledged (at-least-once). kafkajs hands one batch
 * of a partition at a time, which keeps order within a partition.
 */
export class OnlineConsumer {
  private consumer: Consumer | undefined;
  private joined = false;
  private lastError: string | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: OnlineConsumerOptions,
    private readonly log: Logger,
  ) {}

  async start(handler: BatchHandler): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      maxBytesPerPartition: this.options.maxBytesPerPartition,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: Math.max(500, Math.floor(this.options.sessionTimeoutMs / 10)),
      maxWaitTimeInMs: Math.max(10, this.options.maxWaitMs),
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 200 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.joined = true;
      this.lastError = undefined;
      this.log.info({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined the consumer group');
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.joined = false;
      this.lastError = e.payload.error.message;
      this.log.error({ err: e.payload.error.message, restart: e.payload.restart }, 'consumer crashed');
    });
    consumer.on(consumer.events.DISCONNECT, () => {
      this.joined = false;
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.options.topic, fromBeginning: this.options.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConcurrently,
      eachBatch: (payload) => this.onBatch(payload, handler),
    });
  }

  private async onBatch(payload: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch, isRunning, isStale, heartbeat, resolveOffset, commitOffsetsIfNecessary } = payload;
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    await handler({ topic: batch.topic, partition: batch.partition, messages: batch.messages });
    const last = batch.messages[batch.messages.length - 1]!;
    resolveOffset(last.offset);
    // lastOffset() also covers control records after the last message.
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next }] }] });
    await heartbeat();
  }

  /** Whether the consumer is in its group and fetching, and if not, why. */
  health(): { ok: boolean; detail?: string } {
    if (this.joined) return { ok: true };
    return { ok: false, detail: this.lastError ?? (this.consumer === undefined ? 'not started' : 'joining the group') };
  }

  /** Stops fetching; kafkajs waits for the batches in flight (and their commits) to finish. */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer === undefined) return;
    await consumer.disconnect();
    this.log.info('consumer stopped');
  }
}
