import type { Logger } from 'pino';
import { ServiceError, asError, errorMessage } from '../errors.js';
import type { Config } from '../config/index.js';
import type { FetchedBatch, GroupConsumer, GroupConsumerOptions, KafkaError, TopicPartition, TopicPartitionOffset } from '../kafka/index.js';
import { AcknowledgedOffsets } from './acknowledged.js';
import { OffsetCommitter } from './committer.js';
import { Lanes, type BatchTurn } from './lanes.js';

export interface OnlineConsumerOptions {
  /** How often acknowledged offsets are committed in the background, in ms. */
  commitIntervalMs: number;
  /** Batches of one partition in flight at once (fetched, not yet acknowledged). */
  window: number;
  /** Longest a revoke waits for the partition's batches in flight before letting it go, in ms. */
  revokeWaitMs: number;
  /**
   * Whether the consumer commits offsets (at-least-once). With exactly-once the work commits them
   * itself, in the transaction of the batch's outputs, and the consumer never does. Default true.
   */
  commits?: boolean;
}

/**
 * Scores a fetched batch and publishes its outputs: it waits for `turn.wait` before handing its
 * outputs to the producer, calls `turn.issued()` once it did, and resolves when they are
 * acknowledged.
 */
export type BatchWork = (batch: FetchedBatch, turn: BatchTurn) => Promise<void>;

/**
 * The online source: a consumer group member (any Kafka adapter) feeding the pipeline. Up to
 * `window` batches of a partition are in flight at once, so the next fetch overlaps with scoring
 * and producing the previous one; outputs still reach the producer in offset order, and a
 * partition's offset is committed only past batches whose every output is acknowledged
 * (at-least-once). Revoked partitions get a short grace to finish, then their pending commits
 * are dropped.
 */
export class OnlineConsumer {
  private readonly committer: OffsetCommitter;
  private readonly lanes: Lanes;
  private readonly acknowledged = new AcknowledgedOffsets();
  private commitTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private started = false;
  private failure: KafkaError | Error | undefined;
  private readonly commit = (offsets: readonly TopicPartitionOffset[]): Promise<void> =>
    this.options.commits === false ? Promise.resolve() : this.consumer.commit(offsets);

  constructor(
    private readonly consumer: GroupConsumer,
    private readonly options: OnlineConsumerOptions,
    private readonly log: Logger,
    /** Called once when the consumer cannot go on (a fatal error); the service decides what follows. */
    private readonly onFatal: (err: Error) => void,
  ) {
    this.committer = new OffsetCommitter(options.commitIntervalMs, (err) => this.log.warn({ err: asError(err) }, 'offset commit failed; will retry'));
    this.lanes = new Lanes(options.window, {
      done: (topic, partition, next) => {
        this.acknowledged.note(topic, partition, next);
        this.committer.ack(topic, partition, next);
      },
    });
  }

  async start(work: BatchWork): Promise<void> {
    this.started = true;
    // Commits what is done even when no further batch arrives (an idle topic).
    this.commitTimer = setInterval(() => {
      if (!this.stopping) this.committer.maybeCommit(this.commit);
    }, this.options.commitIntervalMs);
    this.commitTimer.unref();
    await this.consumer.run({
      batch: (batch) => this.onBatch(batch, work),
      assigned: () => undefined,
      revoked: (partitions) => this.onRevoked(partitions),
      failed: (err) => this.fail(err),
    });
  }

  private async onBatch(fetched: FetchedBatch, work: BatchWork): Promise<void> {
    const { topic, partition } = fetched;
    if (this.stopping || this.failure !== undefined) return;
    await this.lanes.space(topic, partition);
    if (this.stopping || this.failure !== undefined) return;
    const batch = this.acknowledged.trim(fetched);
    const { turn, finished } = this.lanes.begin(topic, partition, batch.nextOffset);
    if (batch.messages.length === 0) {
      // Only control records, or records already acknowledged: nothing to publish, but the position moves in order.
      void turn.wait.then(() => {
        turn.issued();
        finished();
      });
      return;
    }
    this.withRetries(batch, turn, work).then(
      () => {
        finished();
        if (!this.stopping) this.committer.maybeCommit(this.commit);
      },
      (err: unknown) => {
        turn.issued();
        this.fail(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  /**
   * Runs a batch's work; an error a retry can fix (the schema registry or a broker away) is retried
   * with capped exponential backoff and jitter, for as long as it lasts (an outage is waited out),
   * while the consumer keeps its group membership. Other errors end the consumer.
   */
  private async withRetries(batch: FetchedBatch, turn: BatchTurn, work: BatchWork): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await work(batch, turn);
        if (attempt > 1) this.log.info({ partition: batch.partition, attempts: attempt }, 'batch done after retries');
        return;
      } catch (err) {
        if (!(err instanceof ServiceError && err.canRetry) || this.stopping || this.failure !== undefined) throw err;
        const delay = backoffMs(attempt);
        if (attempt === 1 || attempt % 10 === 0) this.log.warn({ partition: batch.partition, attempt, retryInMs: Math.round(delay), err: asError(err) }, 'batch failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async onRevoked(partitions: readonly TopicPartition[]): Promise<void> {
    // Hand over what is done; what does not finish in time is scored again by the next owner.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.options.revokeWaitMs)));
    const outcome = await Promise.race([this.lanes.idle(partitions).then(() => 'idle' as const), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.log.warn({ partitions }, 'revoked partitions still had batches in flight; they will be scored again');
    await this.committer.flush(this.commit).catch((err: unknown) => this.log.warn({ err: asError(err) }, 'commit before revoke failed'));
    for (const p of partitions) {
      this.lanes.drop(p.topic, p.partition);
      this.committer.drop(p.topic, p.partition);
    }
  }

  private fail(err: Error): void {
    if (this.failure !== undefined || this.stopping) return;
    this.failure = err;
    this.onFatal(err);
  }

  /** Whether the consumer is in its group and fetching, and if not, why. */
  health(): { ok: boolean; detail?: string } {
    if (this.failure !== undefined) return { ok: false, detail: `failed: ${this.failure.message}` };
    if (!this.started) return { ok: false, detail: 'not started' };
    return this.consumer.health();
  }

  /** Stops fetching, lets the batches in flight finish, commits what they did, leaves the group. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.commitTimer);
    await this.consumer.stop(async () => {
      if (this.failure === undefined) await this.lanes.idle();
      await this.committer.flush(this.commit).catch((err: unknown) => this.log.warn({ err: asError(err) }, 'final offset commit failed'));
    });
    this.log.info('consumer stopped');
  }
}

/** Exponential from 200 ms, capped at 10 s, with ±50 % jitter so replicas do not retry in step. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.min(10_000, 200 * 2 ** (attempt - 1)) * (0.5 + random());
}

/** The group consumer's settings as the configuration sets them (the online path; others override a few). */
export function groupOptionsFrom(
  config: Pick<Config, 'groupId' | 'featuresTopic' | 'startFrom' | 'partitionsConcurrently' | 'maxBytesPerPartition' | 'sessionTimeoutMs'>,
  overrides: Partial<GroupConsumerOptions> = {},
): GroupConsumerOptions {
  return {
    groupId: config.groupId,
    topics: [config.featuresTopic],
    fromBeginning: config.startFrom === 'earliest',
    partitionsConcurrently: config.partitionsConcurrently,
    maxBytesPerPartition: config.maxBytesPerPartition,
    sessionTimeoutMs: config.sessionTimeoutMs,
    // Records of aborted transactions upstream are never scored.
    readCommitted: true,
    ...overrides,
  };
}
