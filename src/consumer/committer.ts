/** Commits a set of offsets (the next offset to read, per partition). */
export type CommitFn = (offsets: readonly { topic: string; partition: number; offset: string }[]) => Promise<unknown>;

/**
 * Keeps the offsets whose outputs are acknowledged and commits them off the batch path: at most
 * every `intervalMs` in the background, and on demand (`flush`) before shutdown or a rebalance. Only
 * acknowledged offsets are ever handed to it, so a commit never skips an unscored event; a crash
 * loses at most the last interval's commits, which means those events are scored again.
 */
export class OffsetCommitter {
  private readonly pending = new Map<string, { topic: string; partition: number; offset: string }>();
  private inFlight: Promise<void> | undefined;
  private lastCommit = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records that every event of the partition before `nextOffset` is done. */
  ack(topic: string, partition: number, nextOffset: string): void {
    this.pending.set(`${topic}\u0000${partition}`, { topic, partition, offset: nextOffset });
  }

  /** Starts a commit in the background when the interval has passed and none is running. */
  maybeCommit(commit: CommitFn): void {
    if (this.inFlight !== undefined || this.pending.size === 0) return;
    if (this.now() - this.lastCommit < this.intervalMs) return;
    void this.commitPending(commit).catch(this.onError);
  }

  /** Commits everything acknowledged so far and waits for it. */
  async flush(commit: CommitFn): Promise<void> {
    await this.inFlight?.catch(() => undefined);
    if (this.pending.size > 0) await this.commitPending(commit);
  }

  /** Forgets a partition's pending offset (the partition was revoked). */
  drop(topic: string, partition: number): void {
    this.pending.delete(`${topic}\u0000${partition}`);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private commitPending(commit: CommitFn): Promise<void> {
    const offsets = [...this.pending.values()];
    this.pending.clear();
    this.lastCommit = this.now();
    const run = (async () => {
      try {
        await commit(offsets);
      } catch (err) {
        // Put them back unless newer offsets arrived meanwhile, so the next commit retries them.
        for (const o of offsets) {
          const key = `${o.topic}\u0000${o.partition}`;
          if (!this.pending.has(key)) this.pending.set(key, o);
        }
        throw err;
      } finally {
        this.inFlight = undefined;
      }
    })();
    this.inFlight = run;
    return run;
  }
}
