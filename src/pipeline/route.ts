import { MicroBatcher, type BatchSlice } from '../scoring/batcher.js';
import type { LiveModel } from '../scoring/types.js';
import { compileRowWriter, type RowWriter } from '../scoring/vectorize.js';
import type { PipelineObserver } from './types.js';

/** Everything tied to one model version inside the pipeline: its row writer and its batcher. */
export class ModelSlot {
  users = 0;
  readonly writer: RowWriter;
  readonly width: number;
  readonly batcher: MicroBatcher;

  constructor(
    readonly live: LiveModel,
    options: { maxBatchSize: number; maxWaitMs: number },
    observer: PipelineObserver,
  ) {
    this.writer = compileRowWriter(live.scorer.spec.features);
    this.width = live.scorer.spec.features.length;
    this.batcher = new MicroBatcher(
      { maxBatchSize: options.maxBatchSize, maxWaitMs: options.maxWaitMs, width: this.width },
      async (input, rows) => {
        const t0 = process.hrtime.bigint();
        const batch = await live.scorer.score(input, rows);
        observer.batchScored?.(rows, Number(process.hrtime.bigint() - t0) / 1e9, live.name, live.version);
        observer.rowsScored?.(live, input, rows);
        return batch;
      },
    );
  }
}

/**
 * The rows one partition batch sends to one model: filled row by row, handed to the model's
 * batcher in chunks of at most `maxBatchSize`, the last one marked final.
 */
export class RouteRows {
  rows = 0;
  private readonly slices: Promise<BatchSlice>[] = [];
  private chunk: Float32Array;
  private inChunk = 0;
  private submittedFinal = false;

  constructor(
    readonly slot: ModelSlot,
    private remaining: number,
    private readonly max: number,
  ) {
    this.chunk = new Float32Array(Math.min(remaining, max) * slot.width);
    slot.users++;
    slot.batcher.open();
  }

  /** Writes the event's features as the next row; returns -1, or the index of the bad feature. */
  add(event: unknown): number {
    this.remaining--;
    const bad = this.slot.writer(event, this.chunk, this.inChunk * this.slot.width);
    if (bad >= 0) return bad;
    this.rows++;
    if (++this.inChunk === this.max) {
      this.slices.push(this.slot.batcher.submit(this.chunk, this.inChunk, false));
      this.chunk = new Float32Array(Math.min(this.remaining, this.max) * this.slot.width);
      this.inChunk = 0;
    }
    return -1;
  }

  /** Hands the last rows over; afterwards `slice(row)` can be awaited. */
  finish(): Promise<BatchSlice[]> {
    if (this.inChunk > 0) {
      this.slices.push(this.slot.batcher.submit(this.chunk, this.inChunk, true));
      this.submittedFinal = true;
    } else if (!this.submittedFinal) {
      this.slot.batcher.close();
      this.submittedFinal = true;
    }
    return Promise.all(this.slices);
  }

  /** On failure: stop adding; rows already handed over are scored but nobody waits for them. */
  abandon(): void {
    for (const s of this.slices) s.catch(() => undefined);
    if (!this.submittedFinal) {
      this.slot.batcher.close();
      this.submittedFinal = true;
    }
  }
}
