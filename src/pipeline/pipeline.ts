import type { EventDecoder, PredictionEncoder, PredictionRecord } from '../codec/types.js';
import { PoisonEventError, type PoisonReason } from '../errors.js';
import type { BatchSlice } from '../scoring/batcher.js';
import type { ModelProvider, ServingPlan } from '../scoring/model-manager.js';
import { predictionRecord } from '../scoring/outputs.js';
import { inShare } from '../scoring/routing.js';
import type { LiveModel } from '../scoring/types.js';
import { explainBadFeature } from '../scoring/vectorize.js';
import { ModelSlot, RouteRows } from './route.js';
import { HEADERS, type OutputMessage, type PartitionBatch, type PipelineObserver, type Sink } from './types.js';

export interface PipelineOptions {
  predictionsTopic: string;
  deadLetterTopic: string;
  /** Where shadow predictions go (required for a plan with a shadow version). */
  shadowTopic?: string | undefined;
  maxBatchSize: number;
  maxWaitMs: number;
  /** When set, features are read from this field of each event. */
  featuresField?: string | undefined;
}

interface ScoredOutputs {
  outputs: OutputMessage[];
  predictions: number;
  /** Produce timestamps of the scored events, `predictions` of them. */
  timestamps: Float64Array;
  oldestTimestampMs: number;
  deadLetters: PoisonReason[] | undefined;
}

const PRIMARY = 0;
const CANARY = 1;
const POISON = -1;

/**
 * The scoring pipeline, shared by the online consumer and replay: decode, vectorise, score in
 * micro-batches, publish predictions and dead letters, and resolve once the broker acknowledged
 * every output of the batch. The caller commits (or checkpoints) only after that.
 *
 * Each batch takes the model provider's current plan and keeps it to the end, so a model swap
 * falls between two batches and every prediction names the version that really scored it.
 */
export class ScoringPipeline {
  private readonly slots = new Map<LiveModel, ModelSlot>();

  constructor(
    private readonly models: ModelProvider,
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

    const plan = this.models.acquire();
    if (plan === undefined) throw new Error('the pipeline was given a batch before a model was loaded');
    let result: ScoredOutputs;
    try {
      result = await this.scoreInto(plan, batch);
    } finally {
      this.models.release(plan);
      this.dropUnusedSlots(plan);
    }
    await this.sink.send(result.outputs);
    if (result.predictions > 0) {
      this.observer.predictionsPublished?.(result.predictions, result.oldestTimestampMs);
      this.observer.predictionsAcknowledged?.(result.timestamps.subarray(0, result.predictions), Date.now());
    }
    for (const reason of result.deadLetters ?? []) this.observer.deadLettered?.(reason, 1);
  }

  /** Waits until every batch in flight is scored. */
  async drained(): Promise<void> {
    await Promise.all([...this.slots.values()].map((s) => s.batcher.drained()));
  }

  private async scoreInto(plan: ServingPlan, batch: PartitionBatch): Promise<ScoredOutputs> {
    const { messages, topic, partition } = batch;
    const n = messages.length;
    const max = this.options.maxBatchSize;
    const field = this.options.featuresField;
    const canary = plan.canary;
    const routes: RouteRows[] = [new RouteRows(this.slot(plan.primary), n, max)];
    if (canary !== undefined) routes.push(new RouteRows(this.slot(canary.model), n, max));
    const shadow = plan.shadow === undefined ? undefined : new RouteRows(this.slot(plan.shadow), n, max);
    const all = shadow === undefined ? routes : [...routes, shadow];

    // Per message: its route (PRIMARY, CANARY or POISON), its row in that route, its shadow row.
    const routeOf = new Int8Array(n);
    const rowOf = new Int32Array(n);
    const shadowRowOf = shadow === undefined ? undefined : new Int32Array(n);
    let errors: (PoisonEventError | undefined)[] | undefined;
    let sliceSets: BatchSlice[][];
    try {
      for (let i = 0; i < n; i++) {
        const m = messages[i]!;
        const r = canary !== undefined && inShare(m.key, canary.share) ? CANARY : PRIMARY;
        const route = routes[r]!;
        let event: unknown;
        let bad: PoisonEventError | undefined;
        try {
          event = this.decoder.decode(m.value);
          if (field !== undefined) event = (event as Record<string, unknown> | null)?.[field];
          const badIndex = route.add(event);
          if (badIndex >= 0) bad = explainBadFeature(event, route.slot.live.scorer.spec.features, badIndex);
        } catch (err) {
          if (!(err instanceof PoisonEventError)) throw err;
          bad = err;
        }
        if (bad !== undefined) {
          (errors ??= [])[i] = bad;
          routeOf[i] = POISON;
          continue;
        }
        routeOf[i] = r;
        rowOf[i] = route.rows - 1;
        if (shadow !== undefined) shadowRowOf![i] = shadow.add(event) < 0 ? shadow.rows - 1 : -1;
      }
      sliceSets = await Promise.all(all.map((r) => r.finish()));
    } catch (err) {
      for (const r of all) r.abandon();
      throw err;
    } finally {
      for (const r of all) r.slot.users--;
    }

    // Header values shared by the whole batch are encoded once.
    const sourceTopic = Buffer.from(topic);
    const sourcePartition = Buffer.from(String(partition));
    const versionHeaders = new Map<LiveModel, { name: Buffer; version: Buffer }>();
    const headersOf = (live: LiveModel): { name: Buffer; version: Buffer } => {
      let h = versionHeaders.get(live);
      if (h === undefined) versionHeaders.set(live, (h = { name: Buffer.from(live.name), version: Buffer.from(live.version) }));
      return h;
    };
    const outputs: OutputMessage[] = [];
    let oldest = Number.POSITIVE_INFINITY;
    let predictions = 0;
    const timestamps = new Float64Array(n);
    let deadLetters: PoisonReason[] | undefined;
    let agree = 0;
    let disagree = 0;
    let diffs: number[] | undefined;
    for (let i = 0; i < n; i++) {
      const m = messages[i]!;
      const r = routeOf[i]!;
      if (r === POISON) {
        const err = errors![i]!;
        outputs.push({
          topic: this.options.deadLetterTopic,
          key: m.key,
          value: m.value ?? Buffer.alloc(0),
          headers: {
            ...m.headers,
            [HEADERS.dlqReason]: err.reason,
            [HEADERS.dlqDetail]: err.message,
            [HEADERS.sourceTopic]: sourceTopic,
            [HEADERS.sourcePartition]: sourcePartition,
            [HEADERS.sourceOffset]: m.offset,
          },
        });
        (deadLetters ??= []).push(err.reason);
        continue;
      }
      const live = routes[r]!.slot.live;
      const record = recordAt(sliceSets[r]!, rowOf[i]!, max, live);
      const h = headersOf(live);
      outputs.push({
        topic: this.options.predictionsTopic,
        key: m.key,
        value: this.encoder.encode(record),
        headers: {
          [HEADERS.model]: h.name,
          [HEADERS.version]: h.version,
          [HEADERS.sourceTopic]: sourceTopic,
          [HEADERS.sourcePartition]: sourcePartition,
          [HEADERS.sourceOffset]: m.offset,
        },
      });
      const ts = Number(m.timestamp);
      timestamps[predictions++] = ts;
      if (ts < oldest) oldest = ts;

      const shadowRow = shadowRowOf?.[i] ?? -1;
      if (shadowRow >= 0) {
        const s = shadow!.slot.live;
        const shadowRecord = recordAt(sliceSets[all.length - 1]!, shadowRow, max, s);
        const sh = headersOf(s);
        outputs.push({
          topic: this.options.shadowTopic ?? `${this.options.predictionsTopic}.shadow`,
          key: m.key,
          value: this.encoder.encode(shadowRecord),
          headers: {
            [HEADERS.model]: sh.name,
            [HEADERS.version]: sh.version,
            [HEADERS.sourceTopic]: sourceTopic,
            [HEADERS.sourcePartition]: sourcePartition,
            [HEADERS.sourceOffset]: m.offset,
          },
        });
        const { same, diff } = compare(record, shadowRecord);
        if (same) agree++;
        else disagree++;
        if (diff !== undefined) (diffs ??= []).push(diff);
      }
    }
    if (shadow !== undefined) this.observer.shadowCompared?.(agree, disagree, diffs ?? []);
    return { outputs, predictions, timestamps, oldestTimestampMs: oldest, deadLetters };
  }

  private slot(live: LiveModel): ModelSlot {
    let slot = this.slots.get(live);
    if (slot === undefined) {
      slot = new ModelSlot(live, this.options, this.observer);
      this.slots.set(live, slot);
    }
    return slot;
  }

  /** Forgets the slots of versions the current plan no longer uses, once no batch uses them. */
  private dropUnusedSlots(plan: ServingPlan): void {
    if (this.slots.size <= 1) return;
    const inPlan = new Set<LiveModel>([plan.primary]);
    if (plan.canary) inPlan.add(plan.canary.model);
    if (plan.shadow) inPlan.add(plan.shadow);
    for (const [live, slot] of this.slots) {
      if (!inPlan.has(live) && slot.users === 0) this.slots.delete(live);
    }
  }
}

function recordAt(slices: BatchSlice[], row: number, max: number, live: LiveModel): PredictionRecord {
  const slice = slices[(row / max) | 0]!;
  return predictionRecord(slice.batch, slice.start + (row % max), live.name, live.version);
}

/** Agreement of two predictions: same label, else the same side of 0.5; and the score difference. */
function compare(a: PredictionRecord, b: PredictionRecord): { same: boolean; diff: number | undefined } {
  const sa = a.score ?? a.probabilities?.[a.probabilities.length - 1] ?? null;
  const sb = b.score ?? b.probabilities?.[b.probabilities.length - 1] ?? null;
  const diff = sa !== null && sb !== null ? Math.abs(sa - sb) : undefined;
  if (a.label !== null && b.label !== null) return { same: a.label === b.label, diff };
  if (sa !== null && sb !== null) return { same: sa >= 0.5 === sb >= 0.5, diff };
  return { same: false, diff };
}
