/**
 * Runs fetched batches a few at a time and retires them strictly in the order they came, so a
 * unit's position only moves past batches whose outputs are all acknowledged. Pure: the work and
 * the retirement are callbacks.
 */
export class InOrderWork<T> {
  private readonly queue: { item: T; state: 'waiting' | 'running' | 'done' }[] = [];
  private running = 0;
  private held = false;
  private error: Error | undefined;
  private spaceWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private idleWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(
    private readonly options: { concurrency: number; capacity: number },
    private readonly run: (item: T) => Promise<void>,
    private readonly retire: (item: T) => void,
  ) {
    if (options.concurrency < 1 || options.capacity < options.concurrency) throw new RangeError('need 1 <= concurrency <= capacity');
  }

  /** Queues an item; resolves once there is room for it (backpressure), rejects after a failure. */
  async push(item: T): Promise<void> {
    this.throwIfFailed();
    while (this.queue.length >= this.options.capacity) {
      await new Promise<void>((resolve, reject) => this.spaceWaiters.push({ resolve, reject }));
      this.throwIfFailed();
    }
    this.queue.push({ item, state: 'waiting' });
    this.pump();
  }

  /** Starts no new item; resolves when none is running (everything started is retired). */
  hold(): Promise<void> {
    this.held = true;
    return this.whenIdle(() => this.running === 0);
  }

  release(): void {
    this.held = false;
    this.pump();
  }

  /**
   * Gives up what has not started: it is dropped (never retired) and pushes waiting for room, or
   * made later, reject with `reason`. For shutdown, after `hold()`.
   */
  abandon(reason: Error): void {
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]!.state === 'waiting') this.queue.splice(i, 1);
    this.fail(reason);
  }

  /** Resolves when nothing is queued or running. */
  drained(): Promise<void> {
    return this.whenIdle(() => this.queue.length === 0);
  }

  get size(): number {
    return this.queue.length;
  }

  private whenIdle(done: () => boolean): Promise<void> {
    if (this.error !== undefined) return Promise.reject(this.error);
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = { resolve: () => (done() ? resolve() : this.idleWaiters.push(check)), reject };
      this.idleWaiters.push(check);
    });
  }

  private pump(): void {
    if (this.error !== undefined) return;
    for (const entry of this.queue) {
      if (this.held || this.running >= this.options.concurrency) break;
      if (entry.state !== 'waiting') continue;
      entry.state = 'running';
      this.running++;
      this.run(entry.item).then(
        () => {
          entry.state = 'done';
          this.running--;
          this.retireDone();
          this.pump();
          this.notify();
        },
        (err: unknown) => this.fail(err),
      );
    }
  }

  private retireDone(): void {
    while (this.queue[0]?.state === 'done') {
      const head = this.queue.shift()!;
      this.retire(head.item);
    }
    for (const w of this.spaceWaiters.splice(0, Math.max(0, this.options.capacity - this.queue.length))) w.resolve();
  }

  private throwIfFailed(): void {
    if (this.error !== undefined) throw this.error;
  }

  private notify(): void {
    for (const w of this.idleWaiters.splice(0)) w.resolve();
  }

  private fail(err: unknown): void {
    if (this.error !== undefined) return;
    const error = err instanceof Error ? err : new Error(String(err));
    this.error = error;
    for (const w of [...this.spaceWaiters.splice(0), ...this.idleWaiters.splice(0)]) w.reject(error);
  }
}

/** A set of offsets written as `[first, count]` runs (what a checkpoint stores). */
export function toRuns(offsets: Iterable<number>): [number, number][] {
  const sorted = [...new Set(offsets)].sort((a, b) => a - b);
  const runs: [number, number][] = [];
  for (const o of sorted) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] + last[1] === o) last[1]++;
    else runs.push([o, 1]);
  }
  return runs;
}

export function fromRuns(runs: readonly (readonly [number, number])[]): number[] {
  const out: number[] = [];
  for (const [first, count] of runs) for (let i = 0; i < count; i++) out.push(first + i);
  return out;
}
