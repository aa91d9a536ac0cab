import type { PartitionLag } from './lag.js';

/** A partition that has lag but whose committed offset has not moved for a while. */
export interface Stall {
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
  /** Since when its committed offset has not moved, in ms since the epoch. */
  readonly sinceMs: number;
}

interface Seen {
  committed: number | undefined;
  sinceMs: number;
}

/**
 * Tells stuck partitions from busy ones, from successive lag readings: a partition whose
 * committed offset has not advanced for `afterMs` while its lag is above zero is stalled. (An idle
 * partition, lag 0, never is.) Pure: the caller feeds readings and the clock.
 */
export class StallDetector {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly afterMs: number) {}

  /** The partitions stalled as of this reading. */
  observe(lags: readonly PartitionLag[], nowMs: number): Stall[] {
    const stalls: Stall[] = [];
    for (const l of lags) {
      const key = `${l.topic}\u0000${l.partition}`;
      const prev = this.seen.get(key);
      if (prev === undefined || prev.committed !== l.committed || l.lag === 0) {
        this.seen.set(key, { committed: l.committed, sinceMs: nowMs });
        continue;
      }
      if (nowMs - prev.sinceMs >= this.afterMs) stalls.push({ topic: l.topic, partition: l.partition, lag: l.lag, sinceMs: prev.sinceMs });
    }
    return stalls;
  }
}
