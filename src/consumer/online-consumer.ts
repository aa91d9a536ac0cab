import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { PartitionBatch } from '../pipeline/types.js';
import { OffsetCommitter, type CommitFn } from './committer.js';

export interface OnlineConsumerOptions {
  groupId: string;
  topic: string;
  fromBeginning: boolean;
  partitionsConcurrently: number;
  maxBytesPerPartition: number;
  sessionTimeoutMs: number;
  /** How often acknowledged offsets are committed in the background, in ms. */
  commitIntervalMs: number;
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
  private stopping = false;
  private commit: CommitFn | undefined;
  private readonly committer: OffsetCommitter;
  private commitTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: OnlineConsumerOptions,
    private readonly log: Logger,
  ) {
    this.committer = new OffsetCommitter(options.commitIntervalMs, (err) =>
      this.log.warn({ err: errorMessage(err) }, 'offset commit failed; will retry'),
    );
  }

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
    // Commits what is done even when no further batch arrives (an idle topic).
    this.commitTimer = setInterval(() => {
      if (this.commit !== undefined && !this.stopping) this.committer.maybeCommit(this.commit);
    }, this.options.commitIntervalMs);
    this.commitTimer.unref();
    await consumer.subscribe({ topic: this.options.topic, fromBeginning: this.options.fromBeginning });
    await consumer.run({
      // Not kafkajs' auto-commit: it commits synchronously after every batch, which puts a
      // broker round trip (10 ms with Kafka 4's group coordinator linger) before every fetch.
      // The committer commits acknowledged offsets in the background instead.
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConcurrently,
      eachBatch: (payload) => this.onBatch(payload, handler),
    });
  }

  private async onBatch(payload: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch, isRunning, isStale, heartbeat, resolveOffset, commitOffsetsIfNecessary } = payload;
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    // Commits through the group directly (it also works while kafkajs stops the runner); taken
    // from the latest batch, since kafkajs makes a new group object when it restarts a consumer.
    this.commit = (offsets) => commitOffsetsIfNecessary({ topics: groupByTopic(offsets) });
    await handler({ topic: batch.topic, partition: batch.partition, messages: batch.messages });
    resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
    // lastOffset() also covers control records after the last message.
    this.committer.ack(batch.topic, batch.partition, (BigInt(batch.lastOffset()) + 1n).toString());
    if (this.stopping) {
      await this.committer.flush(this.commit);
      return;
    }
    this.committer.maybeCommit(this.commit);
    try {
      await heartbeat();
    } catch (err) {
      // A rebalance: hand over what is done before the partitions move.
      await this.committer.flush(this.commit).catch(() => undefined);
      throw err;
    }
  }

  /** Whether the consumer is in its group and fetching, and if not, why. */
  health(): { ok: boolean; detail?: string } {
    if (this.joined) return { ok: true };
    return { ok: false, detail: this.lastError ?? (this.consumer === undefined ? 'not started' : 'joining the group') };
  }

  /**
   * Commits what is done, stops fetching and lets the batches in flight finish (each commits its
   * own offsets when done), then leaves the group.
   */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer === undefined) return;
    this.stopping = true;
    clearInterval(this.commitTimer);
    if (this.commit !== undefined) {
      await this.committer.flush(this.commit).catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'final offset commit failed'));
    }
    await consumer.disconnect();
    this.log.info('consumer stopped');
  }
}

function groupByTopic(offsets: readonly { topic: string; partition: number; offset: string }[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const byTopic = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) {
    let list = byTopic.get(o.topic);
    if (list === undefined) byTopic.set(o.topic, (list = []));
    list.push({ partition: o.partition, offset: o.offset });
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}
