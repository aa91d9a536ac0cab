import { ServiceError } from '../errors.js';
import type { FromThread, ThreadInit, ThreadUnit } from './protocol.js';
import { startThread, type ThreadHandle } from './threads.js';

/** One replay thread as the pool follows it. */
export interface PooledThread {
  readonly index: number;
  /** Its running totals, as it last reported them. */
  counts: { predictions: number; deadLetters: number };
  /** It exited. */
  done: boolean;
  /** It reported a failure: what it had in flight may be half-written. */
  failed: boolean;
}

/** What the pool tells the run. */
export interface PoolEvents {
  /** The thread can take a unit of work (it started, or fetched all of its unit). */
  idle(t: PooledThread): void;
  progress(t: PooledThread, m: Extract<FromThread, { type: 'progress' }>): void;
  pairs(m: Extract<FromThread, { type: 'pairs' }>): void;
  failed(err: Error): void;
}

interface Slot extends PooledThread {
  handle: ThreadHandle;
  held?: () => void;
  stopped?: () => void;
}

/**
 * The worker threads of one replay run: starts them, passes their messages on, and waits for
 * them to hold (between batches) or to stop. `aborted` says when the run failed, so that a
 * wait for the threads gives up.
 */
export class ThreadPool {
  private readonly slots: Slot[] = [];

  constructor(
    private readonly events: PoolEvents,
    private readonly aborted: () => boolean,
    /** An exit code other than 0 is a failure unless the run is stopping or done. */
    private readonly exitMatters: () => boolean,
  ) {}

  get threads(): readonly PooledThread[] {
    return this.slots;
  }

  start(inits: readonly ThreadInit[]): void {
    for (const init of inits) {
      const slot: Slot = { index: init.index, handle: undefined as never, counts: { predictions: 0, deadLetters: 0 }, done: false, failed: false };
      slot.handle = startThread(
        init,
        (m) => this.onMessage(slot, m),
        (err) => this.events.failed(new Error(`replay thread ${init.index} crashed: ${err.message}`)),
      );
      void slot.handle.exited.then((code) => {
        slot.done = true;
        slot.stopped?.();
        slot.held?.();
        if (code !== 0 && this.exitMatters()) this.events.failed(new Error(`replay thread ${init.index} exited with code ${code}`));
      });
      this.slots.push(slot);
    }
  }

  send(t: PooledThread, unit: ThreadUnit): void {
    (t as Slot).handle.send({ type: 'unit', unit });
  }

  /** Every live thread stops starting batches; true once all have retired what they started. */
  hold(): Promise<boolean> {
    const live = this.live();
    return this.untilAll(live, 'held', () => {
      for (const t of live) t.handle.send({ type: 'hold' });
    });
  }

  release(): void {
    for (const t of this.live()) t.handle.send({ type: 'release' });
  }

  /**
   * Ends the threads: gracefully (they finish their batches and report them), unless `hard`: then
   * at once. True when every thread finished its batches and none failed.
   */
  async stop(hard: boolean): Promise<boolean> {
    const live = this.live();
    let clean = !hard;
    if (live.length > 0) {
      if (!hard) {
        clean = await this.untilAll(live, 'stopped', () => {
          for (const t of live) t.handle.send({ type: 'stop' });
        });
        await Promise.all(live.map((t) => Promise.race([t.handle.exited, sleep(2000)])));
      }
      await Promise.all(live.map((t) => (t.done ? Promise.resolve() : t.handle.terminate().catch(() => undefined))));
    }
    return clean && !this.slots.some((t) => t.failed);
  }

  private live(): Slot[] {
    return this.slots.filter((t) => !t.done);
  }

  private onMessage(t: Slot, m: FromThread): void {
    switch (m.type) {
      case 'ready':
      case 'fetched':
        this.events.idle(t);
        return;
      case 'progress':
        t.counts = { predictions: m.predictions, deadLetters: m.deadLetters };
        this.events.progress(t, m);
        return;
      case 'pairs':
        this.events.pairs(m);
        return;
      case 'held':
        t.held?.();
        return;
      case 'stopped':
        t.stopped?.();
        return;
      case 'failed':
        t.failed = true;
        // Whoever waits for this thread to hold or stop waits no more.
        t.held?.();
        t.stopped?.();
        this.events.failed(new ServiceError(m.code ?? 'REPLAY_THREAD_FAILED', m.message));
        return;
    }
  }

  /** Sends, then waits until every thread answered `kind` (or ended), the run failed, or the time is up. */
  private async untilAll(threads: Slot[], kind: 'held' | 'stopped', send: () => void, timeoutMs = 60_000): Promise<boolean> {
    const answers = threads.map(
      (t) =>
        new Promise<void>((resolve) => {
          if (t.done) return resolve();
          t[kind] = () => {
            t[kind] = undefined;
            resolve();
          };
        }),
    );
    send();
    const all = Promise.all(answers).then(() => true);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answered = await Promise.race([all, sleep(50).then(() => false)]);
      if (answered) return true;
      if (this.aborted()) return false;
      if (Date.now() > deadline) {
        this.events.failed(new Error(`replay threads did not answer "${kind}" within ${timeoutMs} ms`));
        return false;
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
