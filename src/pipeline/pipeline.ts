import type { EventDecoder, PredictionEncoder } from '../codec/types.js';
import { PoisonEventError, type PoisonReason } from '../errors.js';
import { MicroBatcher, type BatchSlice } from '../scoring/batcher.js';
import type { ModelManager } from '../scoring/model-manager.js';
import { predictionRecord } from '../scoring/outputs.js';
import type { LiveModel } from '../scoring/types.js';
import { compileRowWriter, explainBadFeature, type RowWriter } from '../scoring/vectorize.js';
import { HEADERS, type OutputMessage, type PartitionBatch, type PipelineObserver, type Sink } from './types.js';

export interface PipelineOptions {
  predictionsTopic: string;
  deadLetterTopic: string;
  maxBatchSize: number;
  maxWaitMs: number;
  /** When set, features are read from this field of each event. */
  featuresField?: string | undefined;
}

interface ScoredOutputs {
  outputs: OutputMessage[];
  predictions: number;
  oldestTimestampMs: number;
  deadLetters: PoisonReason[] | undefined;
}

/** Everything tied to one model version: its row writer and its batcher. */
class ModelSlot {
  users = 0;
  retired = false;
  readonly writer: RowWriter;
  readonly width: number;
  readonly batcher: MicroBatcher;

  constructor(
    readonly live: LiveModel,
    options: PipelineOptions,
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
        return batch;
      },
    );
  }
}

/**
 * The scoring pipeline, shared by the online consumer and replay: decode, vectorise, score in
 * micro-batches, publish predictions and dead letters, and resolve once the broker acknowledged
 * every output of the batch. The caller commits (or checkpoints) only after that.
 */
export class ScoringPipeline {
  private slot: ModelSlot | undefined;

  constructor(
    private readonly models: Pick<ModelManager, 'current'>,
    private readonly decoder: EventDecoder,
    private readonly encoder: PredictionEncoder,
    private readonly sink: Sink,
    private readonly options: PipelineOptions,
    private readonly observer: PipelineObserver = {},
  ) {}

  /** Scores every message of `batch` or dead-letters it; resolves when all outputs are acknowledged. */
  async process(batch: PartitionBatch): Promise<void> {
    const { messages, topic, partition } = batch;
    if (messages.length === 0) return;
    this.observer.batchReceived?.(topic, partition, messages.length);
    await this.decoder.prepare(messages.map((m) => m.value));

    const slot = this.acquire();
    let result: ScoredOutputs;
    try {
      result = await this.scoreInto(slot, batch);
    } finally {
      this.releaseSlot(slot);
    }
    await this.sink.send(result.outputs);
    if (result.predictions > 0) this.observer.predictionsPublished?.(result.predictions, result.oldestTimestampMs);
    for (const reason of result.deadLetters ?? []) this.observer.deadLettered?.(reason, 1);
  }

  /** The model the next batch will use. */
  currentModel(): LiveModel | undefined {
    return this.slot?.live ?? this.models.current();
  }

  /** Waits until every batch in flight is scored. */
  async drained(): Promise<void> {
    await this.slot?.batcher.drained();
  }

  private async scoreInto(slot: ModelSlot, batch: PartitionBatch): Promise<ScoredOutputs> {
    const { messages, topic, partition } = batch;
    const { writer, width, batcher, live } = slot;
    const max = this.options.maxBatchSize;
    const field = this.options.featuresField;
    const n = messages.length;

    // rowOf[i] >= 0: row index among scored rows; -1: poison (errors[i] says why).
    const rowOf = new Int32Array(n);
    let errors: (PoisonEventError | undefined)[] | undefined;
    const slices: Promise<BatchSlice>[] = [];
    let chunk = new Float32Array(Math.min(n, max) * width);
    let inChunk = 0;
    let rows = 0;
    batcher.open();
    let submittedFinal = false;
    try {
      for (let i = 0; i < n; i++) {
        let event: unknown;
        let bad: PoisonEventError | undefined;
        try {
          event = this.decoder.decode(messages[i]!.value);
          if (field !== undefined) event = (event as Record<string, unknown> | null)?.[field];
          const badIndex = writer(event, chunk, inChunk * width);
          if (badIndex >= 0) bad = explainBadFeature(event, live.scorer.spec.features, badIndex);
        } catch (err) {
          if (!(err instanceof PoisonEventError)) throw err;
          bad = err;
        }
        if (bad !== undefined) {
          (errors ??= [])[i] = bad;
          rowOf[i] = -1;
          continue;
        }
        rowOf[i] = rows++;
        if (++inChunk === max) {
          slices.push(batcher.submit(chunk, inChunk, false));
          chunk = new Float32Array(Math.min(n - i - 1, max) * width);
          inChunk = 0;
        }
      }
      if (inChunk > 0) {
        slices.push(batcher.submit(chunk, inChunk, true));
        submittedFinal = true;
      }
    } catch (err) {
      // Rows already handed to the batcher are scored anyway; nobody awaits them now.
      for (const slice of slices) slice.catch(() => undefined);
      throw err;
    } finally {
      if (!submittedFinal) batcher.close();
    }

    const scored = await Promise.all(slices);
    const sourcePartition = String(partition);
    const outputs: OutputMessage[] = new Array(n);
    let oldest = Number.POSITIVE_INFINITY;
    let deadLetters: PoisonReason[] | undefined;
    for (let i = 0; i < n; i++) {
      const m = messages[i]!;
      const row = rowOf[i]!;
      if (row < 0) {
        const err = errors![i]!;
        outputs[i] = {
          topic: this.options.deadLetterTopic,
          key: m.key,
          value: m.value ?? Buffer.alloc(0),
          headers: {
            ...m.headers,
            [HEADERS.dlqReason]: err.reason,
            [HEADERS.dlqDetail]: err.message,
            [HEADERS.sourceTopic]: topic,
            [HEADERS.sourcePartition]: sourcePartition,
            [HEADERS.sourceOffset]: m.offset,
          },
        };
        (deadLetters ??= []).push(err.reason);
        continue;
      }
      const slice = scored[(row / max) | 0]!;
      const value = this.encoder.encode(predictionRecord(slice.batch, slice.start + (row % max), live.name, live.version));
      outputs[i] = {
        topic: this.options.predictionsTopic,
        key: m.key,
        value,
        headers: {
          [HEADERS.model]: live.name,
          [HEADERS.version]: live.version,
          [HEADERS.sourceTopic]: topic,
          [HEADERS.sourcePartition]: sourcePartition,
          [HEADERS.sourceOffset]: m.offset,
        },
      };
      const ts = Number(m.timestamp);
      if (ts < oldest) oldest = ts;
    }
    return { outputs, predictions: rows, oldestTimestampMs: oldest, deadLetters };
  }

  private acquire(): ModelSlot {
    const live = this.models.current();
    if (live === undefined) throw new Error('the pipeline was started before a model was loaded');
    if (this.slot?.live !== live) {
      const old = this.slot;
      this.slot = new ModelSlot(live, this.options, this.observer);
      if (old !== undefined) {
        old.retired = true;
        this.maybeRelease(old);
      }
    }
    this.slot.users++;
    return this.slot;
  }

  private releaseSlot(slot: ModelSlot): void {
    slot.users--;
    this.maybeRelease(slot);
  }

  /** The old version is released after its last batch. */
  private maybeRelease(slot: ModelSlot): void {
    if (slot.retired && slot.users === 0) {
      void slot.batcher.drained().then(() => slot.live.scorer.release()).catch(() => undefined);
    }
  }
}
