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
}

/** What the consumer hands each fetched partition batch to; resolves when its outputs are acknowledged. */
export type BatchHandler = (batch: PartitionBatch) => Promise<void>;

/**
 * The online source: a consumer group over the features topic. Each fetched partition batch goes
 * to the handler; its offsets are resolved, and then committed, only after the handler resolved,
 * i.e. after every prediction and dead letter of the batch was acknowledged (at-least-once).
 * kafkajs hands one batch of a partition at a time, which keeps order within a partition.
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
      // How long the broker may hold an empty fetch. It answers as soon as any data arrives, so
      // this costs no latency; a short value would only spin on an idle topic.
      maxWaitTimeInMs: 100,
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
      // Offsets are resolved only once a batch's outputs are acknowledged; kafkajs then commits
      // the resolved offsets after each batch (and before a rebalance or disconnect), never
      // offsets whose outputs are not acknowledged yet.
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConcurrently,
      eachBatch: (payload) => this.onBatch(payload, handler),
    });
  }

  private async onBatch(payload: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch, isRunning, isStale, heartbeat, resolveOffset } = payload;
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    await handler({ topic: batch.topic, partition: batch.partition, messages: batch.messages });
    // Resolving the last message also resolves control records after it (kafkajs does that).
    resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
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
