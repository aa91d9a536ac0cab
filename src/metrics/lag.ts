import type { Logger } from 'pino';
import { asError, errorMessage } from '../errors.js';
import type { Admin, PartitionOffsets } from '../kafka/index.js';
import { StallDetector, type Stall } from './stalls.js';

/** The Kafka admin calls the lag monitor uses. */
export type LagAdmin = Pick<Admin, 'watermarks' | 'committedOffsets'>;

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Log-end offset minus the group's committed offset (minus the log start when nothing is committed). */
  lag: number;
  logEnd: number;
  committed: number | undefined;
}

/** Lag of a group on a topic, per partition, from the two offset lists Kafka gives. */
export function computeLag(topic: string, ends: readonly PartitionOffsets[], committed: readonly { partition: number; offset: number }[]): PartitionLag[] {
  const byPartition = new Map(committed.map((c) => [c.partition, c.offset]));
  return ends
    .map((e) => {
      const c = byPartition.get(e.partition);
      const has = c !== undefined && c >= 0;
      return { topic, partition: e.partition, logEnd: e.high, committed: has ? c : undefined, lag: Math.max(0, e.high - (has ? c : e.low)) };
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
  private stalled: Stall[] = [];
  private polling: Promise<void> | undefined;
  private readonly stalls: StallDetector;
  private readonly topics: readonly string[];

  constructor(
    private readonly admin: LagAdmin,
    private readonly groupId: string,
    /** The group's source topics (several when it routes several to models). */
    topics: string | readonly string[],
    private readonly onLag: (lags: readonly PartitionLag[], stalled: readonly Stall[]) => void,
    private readonly log: Logger,
    /** A partition with lag whose committed offset has not moved for this long is reported stalled, in ms. */
    stallAfterMs = 60_000,
  ) {
    this.stalls = new StallDetector(stallAfterMs);
    this.topics = typeof topics === 'string' ? [topics] : topics;
  }

  /** Partitions stalled as of the last reading. */
  stalledPartitions(): readonly Stall[] {
    return this.stalled;
  }

  start(intervalMs: number): Promise<void> {
    this.timer = setInterval(() => void this.poll(), intervalMs);
    this.timer.unref();
    return this.poll();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Says so once when a partition stalls, and once when it moves again. */
  private reportChanges(stalled: readonly Stall[], now: number): void {
    const key = (s: { topic: string; partition: number }): string => `${s.topic}\u0000${s.partition}`;
    const before = new Set(this.stalled.map(key));
    const after = new Set(stalled.map(key));
    for (const s of stalled) {
      if (!before.has(key(s))) this.log.warn({ topic: s.topic, partition: s.partition, lag: s.lag, stalledForMs: now - s.sinceMs }, 'partition stalled: lag and no progress');
    }
    for (const s of this.stalled) if (!after.has(key(s))) this.log.info({ topic: s.topic, partition: s.partition }, 'partition moving again');
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
      const each = await Promise.all(
        this.topics.map(async (topic) => {
          const [ends, committed] = await Promise.all([this.admin.watermarks(topic), this.admin.committedOffsets(this.groupId, topic)]);
          return computeLag(topic, ends, committed);
        }),
      );
      this.last = each.flat();
      const now = Date.now();
      const stalled = this.stalls.observe(this.last, now);
      this.reportChanges(stalled, now);
      this.stalled = stalled;
      this.onLag(this.last, stalled);
    } catch (err) {
      this.log.warn({ err: asError(err) }, 'cannot read consumer lag');
    }
  }
}
