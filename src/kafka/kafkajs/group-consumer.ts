import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { asError, errorMessage } from '../../errors.js';
import type { FetchedBatch, GroupConsumer, GroupConsumerOptions, GroupHandlers, TopicPartition, TopicPartitionOffset } from '../types.js';
import { fromKafkajs } from './errors.js';
import { byTopic } from './offsets.js';

const REBALANCING = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION']);

/**
 * A consumer group member over kafkajs' eachBatch runner, never auto-committing. kafkajs fetches
 * a broker's partitions again only when every batch of the previous fetch was handled, so a
 * handler that wants fetches to overlap with its work returns early (the online consumer keeps
 * a window of batches per partition). kafkajs rebalances eagerly (every partition is revoked):
 * when a heartbeat made while a batch waits reports a rebalance, the handlers' `revoked` runs
 * before kafkajs joins again; otherwise it runs after the join, with the partitions that moved.
 */
export class KafkajsGroupConsumer implements GroupConsumer {
  private consumer: Consumer | undefined;
  private handlers: GroupHandlers | undefined;
  private joined = false;
  private lastError: string | undefined;
  private stopping = false;
  private assignment: TopicPartition[] = [];
  /** Revoked ahead of the join that follows (the rebalance was seen in a heartbeat of ours). */
  private revokedEarly = false;
  /** kafkajs commits through the group of the current run; a payload's commit works while it stops too. */
  private commitFn: ((offsets: readonly TopicPartitionOffset[]) => Promise<void>) | undefined;
  private readonly heartbeatMs: number;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: GroupConsumerOptions,
    private readonly log: Logger,
  ) {
    this.heartbeatMs = Math.max(500, Math.floor(options.sessionTimeoutMs / 10));
  }

  async run(handlers: GroupHandlers): Promise<void> {
    this.handlers = handlers;
    const o = this.options;
    const consumer = this.kafka.consumer({
      groupId: o.groupId,
      maxBytesPerPartition: o.maxBytesPerPartition,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: this.heartbeatMs,
      // How long the broker may hold an empty fetch. It answers as soon as any data arrives, so
      // this costs no latency; a short value would only spin on an idle topic.
      maxWaitTimeInMs: o.maxWaitMs ?? 100,
      readUncommitted: !o.readCommitted,
      allowAutoTopicCreation: false,
      // A restart (a new join) only for errors a retry can fix; the others end the consumer.
      retry: { retries: 10, initialRetryTime: 200, restartOnFailure: async (e) => fromKafkajs(e).canRetry },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.onJoin(e.payload.memberAssignment, e.payload.memberId));
    consumer.on(consumer.events.CRASH, (e) => {
      this.joined = false;
      const error = fromKafkajs(e.payload.error);
      this.lastError = error.message;
      if (e.payload.restart) {
        this.log.warn({ err: error }, 'consumer restarting after an error');
      } else if (!this.stopping) {
        handlers.failed(error);
      }
    });
    consumer.on(consumer.events.DISCONNECT, () => {
      this.joined = false;
    });
    // Fetches that held only control records (transaction markers) never reach eachBatch; they
    // still move the position, which the committed offset should follow.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      const { batchSize, topic, partition, lastOffset } = e.payload;
      if (batchSize !== 0 || this.stopping) return;
      void handlers.batch({ topic, partition, messages: [], nextOffset: (BigInt(lastOffset) + 1n).toString() }).catch(() => undefined);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...o.topics], fromBeginning: o.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: o.partitionsConcurrently,
        eachBatch: (payload) => this.onBatch(payload, handlers),
      });
    } catch (err) {
      throw fromKafkajs(err, 'starting the consumer');
    }
  }

  private onJoin(memberAssignment: Record<string, number[]>, memberId: string): void {
    const next: TopicPartition[] = [];
    for (const [topic, partitions] of Object.entries(memberAssignment)) for (const partition of partitions) next.push({ topic, partition });
    const previous = this.assignment;
    this.assignment = next;
    this.joined = true;
    this.lastError = undefined;
    this.log.info({ memberId, assignment: memberAssignment }, 'joined the consumer group');
    const key = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;
    const kept = new Set(next.map(key));
    const lost = this.revokedEarly ? [] : previous.filter((tp) => !kept.has(key(tp)));
    this.revokedEarly = false;
    if (lost.length > 0) void this.handlers?.revoked(lost).catch(() => undefined);
    this.handlers?.assigned(next);
  }

  private async onBatch(payload: EachBatchPayload, handlers: GroupHandlers): Promise<void> {
    const { batch, isRunning, isStale, heartbeat, commitOffsetsIfNecessary, resolveOffset } = payload;
    if (!isRunning() || isStale() || this.stopping || batch.messages.length === 0) return;
    this.commitFn = async (offsets) => {
      await commitOffsetsIfNecessary({ topics: byTopic(offsets) });
    };
    const fetched: FetchedBatch = {
      topic: batch.topic,
      partition: batch.partition,
      messages: batch.messages,
      // lastOffset() also covers control records after the last message.
      nextOffset: (BigInt(batch.lastOffset()) + 1n).toString(),
    };
    let settled = false;
    const done = handlers.batch(fetched).finally(() => {
      settled = true;
    });
    // The group must hear from this member while the handler waits (a produce being retried,
    // a full window): heartbeat every interval until it is done.
    while (!settled) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, this.heartbeatMs)))]);
      clearTimeout(timer);
      if (settled) break;
      await this.heartbeat(heartbeat, handlers);
    }
    await done;
    // Moves kafkajs' fetch position only (it never commits: autoCommit is off).
    resolveOffset(batch.lastOffset());
    await this.heartbeat(heartbeat, handlers);
  }

  private async heartbeat(heartbeat: () => Promise<void>, handlers: GroupHandlers): Promise<void> {
    try {
      await heartbeat();
    } catch (err) {
      if (REBALANCING.has((err as { type?: string }).type ?? '')) {
        // Eager rebalance: every partition goes. Hand over what is done before kafkajs rejoins.
        this.revokedEarly = true;
        const all = this.assignment;
        await handlers.revoked(all).catch((e: unknown) => this.log.warn({ err: asError(e) }, 'revoke handler failed'));
      }
      throw err;
    }
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    try {
      if (this.commitFn !== undefined) await this.commitFn(offsets);
      else await this.consumer?.commitOffsets(offsets.map((o) => ({ ...o })));
    } catch (err) {
      throw fromKafkajs(err, 'committing offsets');
    }
  }

  health(): { ok: boolean; detail?: string } {
    if (this.joined) return { ok: true };
    return { ok: false, detail: this.lastError ?? (this.consumer === undefined ? 'not started' : 'joining the group') };
  }

  async stop(beforeLeave?: () => Promise<void>): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined || this.stopping) return;
    this.stopping = true;
    const topics = [...new Set(this.assignment.map((tp) => tp.topic))];
    if (topics.length > 0) consumer.pause(topics.map((topic) => ({ topic })));
    try {
      await beforeLeave?.();
    } finally {
      this.consumer = undefined;
      await consumer.disconnect();
      this.joined = false;
      this.log.info('consumer stopped');
    }
  }
}
