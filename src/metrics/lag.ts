import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';

/** The Kafka admin calls the lag monitor uses (kafkajs' Admin implements them). */
export interface LagAdmin {
  fetchTopicOffsets(topic: string): Promise<{ partition: number; offset: string; low: string; high: string }[]>;
  fetchOffsets(options: { groupId: string; topics: string[] }): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Log-end offset minus the group's committed offset (minus the log start when nothing is committed). */
  lag: number;
  logEnd: number;
  committed: number | undefined;
}

/** Lag of a group on a topic, per partition, from the two offset lists Kafka gives. */
export function computeLag(
  topic: string,
  ends: readonly { partition: number; low: string; high: string }[],
  committed: readonly { partition: number; offset: string }[],
): PartitionLag[] {
  const byPartition = new Map(committed.map((c) => [c.partition, Number(c.offset)]));
  return ends
    .map((e) => {
      const high = Number(e.high);
      const c = byPartition.get(e.partition);
      const has = c !== undefined && c >= 0;
      return { topic, partition: e.partition, logEnd: high, committed: has ? c : undefined, lag: Math.max(0, high - (has ? c : Number(e.low))) };
    })
    .sort((a, b) => a.partition - b.partition);
}

/**
 * Polls the consumer group's lag every `intervalMs`, whether or not events flow, so the gauge is
 * current even when the consumer is stuck or idle.
 */
export class LagMonitor {
  private timer: NodeJS.Timeout | undefined;
  private last: PartitionLag[] = [];
  private polling: Promise<void> | undefined;

  constructor(
    private readonly admin: LagAdmin,
    private readonly groupId: string,
    private readonly topic: string,
    private readonly onLag: (lags: readonly PartitionLag[]) => void,
    private readonly log: Logger,
  ) {}

  start(intervalMs: number): Promise<void> {
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
    return this.poll();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  latest(): readonly PartitionLag[] {
    return this.last;
  }

  poll(): Promise<void> {
    this.polling ??= this.doPoll().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async doPoll(): Promise<void> {
    try {
      const [ends, groups] = await Promise.all([
        this.admin.fetchTopicOffsets(this.topic),
        this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] }),
      ]);
      const committed = groups.find((g) => g.topic === this.topic)?.partitions ?? [];
      this.last = computeLag(this.topic, ends, committed);
      this.onLag(this.last);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'cannot read consumer lag');
    }
  }
}
