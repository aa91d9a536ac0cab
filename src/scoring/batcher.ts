import type { ModelInput, ScoredBatch } from './types.js';

/** How the rows of a batch are held: a buffer for some rows, and the copy of rows from one to another. */
export interface BatchLayout<B> {
  alloc(rows: number): B;
  /** Copies the first `rows` rows of `src` into `dst` from row `at`. */
  copy(src: B, rows: number, dst: B, at: number): void;
}

export interface BatcherOptions<B> {
  /** Most rows in one scoring call. */
  maxBatchSize: number;
  /** Most time the first waiting row waits for the batch to fill, in ms. */
  maxWaitMs: number;
  /** Values per row of float32 rows (the model's feature count), or the layout of other rows. */
  width?: number;
  layout?: BatchLayout<B>;
}

/** Where a submission's rows landed: row `start + i` of `batch` is row `i` of the submission. */
export interface BatchSlice {
  readonly batch: ScoredBatch;
  readonly start: number;
}

interface Pending<B> {
  rows: B;
  n: number;
  final: boolean;
  resolve: (slice: BatchSlice) => void;
  reject: (err: unknown) => void;
}

export type ScoreFn<B extends ModelInput = Float32Array> = (input: B, rows: number) => Promise<ScoredBatch>;

/** Rows of `width` float32 values side by side. */
export function floatLayout(width: number): BatchLayout<Float32Array> {
  return {
    alloc: (rows) => new Float32Array(rows * width),
    copy: (src, rows, dst, at) => dst.set(rows * width === src.length ? src : src.subarray(0, rows * width), at * width),
  };
}

/**
 * Joins rows from several concurrent submitters (one per partition batch) into one scoring call.
 *
 * A batch is scored when it holds `maxBatchSize` rows, when `maxWaitMs` has passed since its first
 * row, or as soon as no submitter is still adding rows, so a quiet stream is never held back by
 * the timer. One batch is scored at a time, in arrival order,
 * which keeps each submitter's rows in order.
 *
 * Submitters call `open()` when they start and pass `final: true` with their last submission.
 */
export class MicroBatcher<B extends ModelInput = Float32Array> {
  private readonly queue: Pending<B>[] = [];
  private queuedRows = 0;
  private openSubmitters = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private readonly buffer: B;
  private readonly layout: BatchLayout<B>;

  constructor(
    private readonly options: BatcherOptions<B>,
    private readonly scoreFn: ScoreFn<B>,
  ) {
    this.layout = options.layout ?? (floatLayout(options.width ?? 1) as unknown as BatchLayout<B>);
    this.buffer = this.layout.alloc(options.maxBatchSize);
  }

  open(): void {
    this.openSubmitters++;
  }

  /** A submitter that opened but ends without a final submission (e.g. all its events were bad). */
  close(): void {
    this.openSubmitters--;
    this.schedule();
  }

  /** Queues the first `n` rows of `rows` (n <= maxBatchSize); resolves when they are scored. */
  submit(rows: B, n: number, final: boolean): Promise<BatchSlice> {
    if (n > this.options.maxBatchSize) throw new RangeError(`submission of ${n} rows exceeds maxBatchSize`);
    return new Promise<BatchSlice>((resolve, reject) => {
      this.queue.push({ rows, n, final, resolve, reject });
      this.queuedRows += n;
      if (final) this.openSubmitters--;
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or being scored. */
  drained(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queuedRows >= this.options.maxBatchSize || this.options.maxWaitMs === 0) {
      this.flushNow();
      return;
    }
    if (this.openSubmitters === 0) {
      // Nobody can add more right now; yet let submitters started in this same turn of the event
      // loop (kafkajs starts partition handlers together) join before scoring.
      this.immediate ??= setImmediate(() => {
        this.immediate = undefined;
        if (this.openSubmitters === 0) this.flushNow();
      });
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flushNow();
    }, this.options.maxWaitMs);
  }

  private flushNow(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;

    // Take whole submissions in order while they fit.
    const taken: Pending<B>[] = [];
    let rows = 0;
    while (this.queue.length > 0 && rows + this.queue[0]!.n <= this.options.maxBatchSize) {
      const p = this.queue.shift()!;
      taken.push(p);
      rows += p.n;
    }
    this.queuedRows -= rows;

    let input: B;
    if (taken.length === 1) {
      input = taken[0]!.rows;
    } else {
      let at = 0;
      for (const p of taken) {
        this.layout.copy(p.rows, p.n, this.buffer, at);
        at += p.n;
      }
      input = this.buffer;
    }

    this.running = true;
    this.scoreFn(input, rows).then(
      (batch) => {
        let start = 0;
        for (const p of taken) {
          p.resolve({ batch, start });
          start += p.n;
        }
      },
      (err: unknown) => {
        for (const p of taken) p.reject(err);
      },
    ).finally(() => {
      this.running = false;
      if (this.queue.length > 0) this.schedule();
      else for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }
}
