/**
 * The batches of each partition between fetch and commit: a window of at most `window` batches per
 * partition is in flight at once, their outputs are handed to the producer in fetch order (each
 * batch waits for its turn), and a partition's position moves past a batch only once it and every
 * batch before it are done. Pure: the caller supplies the work and hears about positions.
 */
export interface LaneCallbacks {
  /** Every batch of the partition before `nextOffset` is done. */
  done(topic: string, partition: number, nextOffset: string): void;
}

interface Entry {
  nextOffset: string;
  done: boolean;
  /** Resolves when this batch has handed its outputs to the producer (or given up). */
  issued: Promise<void>;
  markIssued: () => void;
}

class Lane {
  readonly entries: Entry[] = [];
  /** The issued promise of the newest batch: the next batch's turn. */
  tail: Promise<void> = Promise.resolve();
  readonly spaceWaiters: (() => void)[] = [];
  readonly idleWaiters: (() => void)[] = [];

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}
}

/** What a batch gets from its lane: its turn to send, and a way to say it sent. */
export interface BatchTurn {
  /** Resolves when every earlier batch of the partition handed its outputs to the producer. */
  readonly wait: Promise<void>;
  /** Call once the batch handed its outputs to the producer (or will not). */
  issued(): void;
}

export class Lanes {
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly window: number,
    private readonly callbacks: LaneCallbacks,
  ) {
    if (!(window >= 1)) throw new RangeError('the window holds at least one batch');
  }

  /**
   * Takes a batch into its partition's lane and returns its turn. `finished` must be called when
   * its work is done (successfully: its outputs acknowledged).
   */
  begin(topic: string, partition: number, nextOffset: string): { turn: BatchTurn; finished: () => void } {
    const lane = this.lane(topic, partition);
    let markIssued!: () => void;
    const issued = new Promise<void>((r) => (markIssued = r));
    const entry: Entry = { nextOffset, done: false, issued, markIssued };
    const wait = lane.tail;
    lane.tail = issued;
    lane.entries.push(entry);
    return {
      turn: { wait, issued: markIssued },
      finished: () => this.finish(lane, entry),
    };
  }

  /** Resolves when the partition has room for another batch. */
  async space(topic: string, partition: number): Promise<void> {
    const lane = this.lane(topic, partition);
    while (lane.entries.length >= this.window) await new Promise<void>((r) => lane.spaceWaiters.push(r));
  }

  /** Batches of a partition in flight. */
  inFlight(topic: string, partition: number): number {
    return this.lanes.get(key(topic, partition))?.entries.length ?? 0;
  }

  /** Resolves when the given partitions (default: all) have nothing in flight. */
  async idle(partitions?: readonly { topic: string; partition: number }[]): Promise<void> {
    const lanes = partitions === undefined ? [...this.lanes.values()] : partitions.map((p) => this.lanes.get(key(p.topic, p.partition)));
    for (const lane of lanes) {
      if (lane === undefined) continue;
      while (lane.entries.length > 0) await new Promise<void>((r) => lane.idleWaiters.push(r));
    }
  }

  /** Forgets a partition (revoked): what is still in flight finishes, but moves no position. */
  drop(topic: string, partition: number): void {
    const lane = this.lanes.get(key(topic, partition));
    if (lane === undefined) return;
    this.lanes.delete(key(topic, partition));
    for (const e of lane.entries) e.markIssued();
    lane.entries.length = 0;
    for (const w of lane.spaceWaiters.splice(0)) w();
    for (const w of lane.idleWaiters.splice(0)) w();
  }

  private lane(topic: string, partition: number): Lane {
    const k = key(topic, partition);
    let lane = this.lanes.get(k);
    if (lane === undefined) this.lanes.set(k, (lane = new Lane(topic, partition)));
    return lane;
  }

  private finish(lane: Lane, entry: Entry): void {
    entry.done = true;
    entry.markIssued();
    if (this.lanes.get(key(lane.topic, lane.partition)) !== lane) return;
    let last: Entry | undefined;
    while (lane.entries.length > 0 && lane.entries[0]!.done) last = lane.entries.shift();
    if (last === undefined) return;
    this.callbacks.done(lane.topic, lane.partition, last.nextOffset);
    for (const w of lane.spaceWaiters.splice(0)) w();
    if (lane.entries.length === 0) for (const w of lane.idleWaiters.splice(0)) w();
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
