import { MicroBatcher, type BatchSlice } from '../scoring/batcher.js';
import type { LiveModel, ModelInput } from '../scoring/types.js';
import type { FeatureLocation } from '../scoring/feature-paths.js';
import { rowFormatFor, type RowFormat } from '../scoring/vectorize.js';
import type { PipelineObserver } from './types.js';

/** Input buffers kept for reuse per slot: enough for the batches of a few partitions in flight. */
const MAX_POOLED_BUFFERS = 16;

/** Everything tied to one model version inside the pipeline: its row format, its batcher, its input buffers. */
export class ModelSlot {
  users = 0;
  readonly format: RowFormat;
  readonly writer: RowFormat['write'];
  /** The writer's offset step per row. */
  readonly width: number;
  readonly batcher: MicroBatcher<ModelInput>;
  private readonly pool: ModelInput[] = [];

  constructor(
    readonly live: LiveModel,
    private readonly options: { maxBatchSize: number; maxWaitMs: number },
    observer: PipelineObserver,
    readonly location: FeatureLocation,
  ) {
    this.format = rowFormatFor(live.scorer.spec, location);
    this.writer = this.format.write;
    this.width = this.format.stride;
    this.batcher = new MicroBatcher<ModelInput>(
      { maxBatchSize: options.maxBatchSize, maxWaitMs: options.maxWaitMs, layout: this.format },
      async (input, rows) => {
        const t0 = process.hrtime.bigint();
        const batch = await live.scorer.score(input, rows);
        observer.batchScored?.(rows, Number(process.hrtime.bigint() - t0) / 1e9, live.name, live.version);
        observer.rowsScored?.(live, input, rows);
        return batch;
      },
    );
  }

  /** A buffer for up to `maxBatchSize` rows: a reused one when free, so no batch allocates its input. */
  take(): ModelInput {
    return this.pool.pop() ?? this.format.alloc(this.options.maxBatchSize);
  }

  /** Gives back buffers whose rows are scored (nothing reads them any more). */
  give(buffers: readonly ModelInput[]): void {
    for (const b of buffers) if (this.pool.length < MAX_POOLED_BUFFERS) this.pool.push(b);
  }
}

/**
 * The rows one partition batch sends to one model: filled row by row, handed to the model's
 * batcher in chunks of at most `maxBatchSize`, the last one marked final.
 */
export class RouteRows {
  rows = 0;
  private readonly slices: Promise<BatchSlice>[] = [];
  /** The buffers handed to the batcher, given back to the slot once scored. */
  private readonly chunks: ModelInput[] = [];
  private chunk: ModelInput;
  private inChunk = 0;
  private submittedFinal = false;

  constructor(
    readonly slot: ModelSlot,
    private readonly max: number,
  ) {
    this.chunk = slot.take();
    slot.users++;
    slot.batcher.open();
  }

  /** Writes the event's features as the next row; returns -1, or the index of the bad feature. */
  add(event: unknown): number {
    const bad = this.slot.writer(event, this.chunk, this.inChunk * this.slot.width);
    if (bad >= 0) return bad;
    this.rows++;
    if (++this.inChunk === this.max) {
      this.chunks.push(this.chunk);
      this.slices.push(this.slot.batcher.submit(this.chunk, this.inChunk, false));
      this.chunk = this.slot.take();
      this.inChunk = 0;
    }
    return -1;
  }

  /** Hands the last rows over; afterwards `slice(row)` can be awaited. */
  async finish(): Promise<BatchSlice[]> {
    if (this.inChunk > 0) {
      this.chunks.push(this.chunk);
      this.slices.push(this.slot.batcher.submit(this.chunk, this.inChunk, true));
      this.submittedFinal = true;
    } else {
      this.slot.give([this.chunk]);
      if (!this.submittedFinal) this.slot.batcher.close();
      this.submittedFinal = true;
    }
    const slices = await Promise.all(this.slices);
    // Scored: the outputs are arrays of their own, the inputs can serve the next batch.
    this.slot.give(this.chunks);
    return slices;
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
