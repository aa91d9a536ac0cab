import type { EventDecoder, PredictionRecord } from '../codec/types.js';
import type { FeaturePath } from '../config/index.js';
import { PoisonEventError, type PoisonReason } from '../errors.js';
import { SHADOW_AGREEMENT, agrees, scoreOf } from '../scoring/agreement.js';
import type { BatchSlice } from '../scoring/batcher.js';
import type { ModelProvider, ServingPlan } from '../scoring/model-manager.js';
import { predictionRecord } from '../scoring/outputs.js';
import { inShare } from '../scoring/routing.js';
import type { LiveModel } from '../scoring/types.js';
import { featureLocation, type FeatureLocation } from '../scoring/feature-paths.js';
import { ModelSlot, RouteRows } from './route.js';
import { mergeOutcomes, splitByRoute } from './split.js';
import type { Destinations, PartitionBatch, PipelineObserver, RecordOutcome, RoutedModel, Router, ScoredRole, Sink, SourceMessage, SplitRouting, TopicRouting } from './types.js';

export interface PipelineOptions {
  maxBatchSize: number;
  maxWaitMs: number;
  /** When set, features are read from this object of each event (a dotted path). */
  featuresField?: string | undefined;
  /** Features read from paths of their own (see config `featurePaths`). */
  featurePaths?: readonly FeaturePath[];
  /** Keep each scored record's decoded event (whole) in its outcome: compare mode reads labels from it. */
  keepEvents?: boolean;
}

/** What one processed batch wrote. */
export interface BatchCounts {
  predictions: number;
  deadLetters: number;
}

/** A batch's place in its partition's order of sends (see consumer/lanes.ts). */
export interface SendTurn {
  readonly wait: Promise<void>;
  issued(): void;
}

const PRIMARY = 0;
const CANARY = 1;
const POISON = -1;

/** Where each message of a batch went: its route (PRIMARY, CANARY or POISON), its row there, its shadow row. */
interface Placement {
  routeOf: Int8Array;
  rowOf: Int32Array;
  shadowRowOf: Int32Array | undefined;
  events: unknown[] | undefined;
  errors: (PoisonEventError | undefined)[] | undefined;
  canaryFallbacks: number;
}

/** The routes of one batch: primary, maybe canary, maybe shadow, each filling its model's rows. */
interface Routes {
  scored: RouteRows[];
  shadow: RouteRows | undefined;
  all: RouteRows[];
}

/** What one route scored of a batch: its outcomes and, for a split topic, their places in the batch. */
interface RoutedPart {
  readonly outcomes: RecordOutcome[];
  readonly shadowed: boolean;
  /** The model's name; '' for events that matched no route. */
  readonly model: string;
  readonly at?: ArrayLike<number>;
}

/**
 * The scoring pipeline, shared by the online consumer and replay: decode, vectorise, score in
 * micro-batches, hand each record's outcome (a prediction, or a dead letter with its reason) to the
 * sink, and resolve once the sink has them durably. The caller commits (or checkpoints) only
 * after that.
 *
 * Each batch finds its topic's routing once: one model, or several chosen per event by a header
 * or field (a precompiled lookup). Each model's events take that model provider's current plan
 * and keep it to the end, so a model swap falls between two batches and every prediction names
 * the version that really scored it.
 */
export class ScoringPipeline {
  private readonly slots = new Map<LiveModel, ModelSlot>();
  private readonly location: FeatureLocation;
  private readonly router: Router;

  /** `models`: one provider scoring every topic (replay), or a router of topics to models. */
  constructor(
    models: ModelProvider | Router,
    private readonly decoder: EventDecoder,
    private readonly sink: Sink,
    private readonly options: PipelineOptions,
    private readonly observer: PipelineObserver = {},
  ) {
    this.location = featureLocation(options.featuresField, options.featurePaths);
    if ('forTopic' in models) {
      this.router = models;
    } else {
      const every: TopicRouting = { kind: 'single', route: { provider: models } };
      this.router = { forTopic: () => every };
    }
  }

  /**
   * Scores every message of `batch` or dead-letters it; resolves when the sink has every outcome.
   * With a `turn`, the outcomes go to the sink only after `turn.wait` (the batches before it in
   * the partition sent theirs), and `turn.issued()` says they went.
   */
  async process(batch: PartitionBatch, turn?: SendTurn): Promise<BatchCounts> {
    const { messages, topic, partition } = batch;
    if (messages.length === 0) return { predictions: 0, deadLetters: 0 };
    const routing = this.router.forTopic(topic);
    if (routing === undefined) throw new Error(`the pipeline was given a batch of topic ${topic}, which no route reads`);
    await this.decoder.prepare(messages.map((m) => m.value));

    const parts = routing.kind === 'single' ? [await this.scoreRoute(routing.route, messages, undefined, topic, partition)] : await this.scoreSplit(routing, messages, topic, partition);
    const outcomes = parts.length === 1 && parts[0]!.at === undefined ? parts[0]!.outcomes : mergeOutcomes(messages.length, parts as Required<RoutedPart>[]);
    if (turn !== undefined) await turn.wait;
    const delivered = { topic, partition, outcomes, nextOffset: batch.nextOffset };
    const sent = this.sink.send(delivered);
    turn?.issued();
    await sent;
    this.observer.batchDelivered?.(delivered);
    const counts = { predictions: 0, deadLetters: 0 };
    for (const part of parts) {
      const c = this.report(part, topic, partition);
      counts.predictions += c.predictions;
      counts.deadLetters += c.deadLetters;
    }
    return counts;
  }

  /** Scores `messages` (all of one route) with the plan its model serves now. */
  private async scoreRoute(route: RoutedModel, messages: readonly SourceMessage[], decoded: readonly unknown[] | undefined, topic: string, partition: number): Promise<RoutedPart> {
    const plan = route.provider.acquire();
    if (plan === undefined) throw new Error('the pipeline was given a batch before a model was loaded');
    this.observer.batchReceived?.(topic, partition, messages.length, plan.primary.name);
    try {
      const outcomes = await this.score(plan, messages, decoded, route.to);
      return { outcomes, shadowed: plan.shadow !== undefined, model: plan.primary.name };
    } finally {
      route.provider.release(plan);
      this.dropUnusedSlots(plan);
    }
  }

  /** A batch of a topic split between models: each route scores its events, all at once. */
  private async scoreSplit(routing: SplitRouting, messages: readonly SourceMessage[], topic: string, partition: number): Promise<RoutedPart[]> {
    const split = splitByRoute(routing, messages, this.decoder);
    const parts = await Promise.all(
      split.groups.map(async (g): Promise<RoutedPart> => ({ ...(await this.scoreRoute(routing.routes[g.route]!, g.messages, g.decoded, topic, partition)), at: g.at })),
    );
    if (split.unmatched.length > 0) {
      this.observer.batchReceived?.(topic, partition, split.unmatched.length, '');
      parts.push({ outcomes: [...split.unmatched], shadowed: false, model: '', at: split.unmatchedAt });
    }
    return parts;
  }

  /** Waits until every batch in flight is scored. */
  async drained(): Promise<void> {
    await Promise.all([...this.slots.values()].map((s) => s.batcher.drained()));
  }

  private async score(plan: ServingPlan, messages: readonly SourceMessage[], decoded: readonly unknown[] | undefined, to: Destinations | undefined): Promise<RecordOutcome[]> {
    const routes = this.routesFor(plan);
    let placement: Placement;
    let slices: BatchSlice[][];
    try {
      placement = this.place(plan, routes, messages, decoded);
      slices = await Promise.all(routes.all.map((r) => r.finish()));
    } catch (err) {
      for (const r of routes.all) r.abandon();
      throw err;
    } finally {
      for (const r of routes.all) r.slot.users--;
    }
    if (placement.canaryFallbacks > 0) this.observer.canaryFallback?.(placement.canaryFallbacks, plan.primary.name);
    return this.outcomes(messages, routes, placement, slices, to);
  }

  private routesFor(plan: ServingPlan): Routes {
    const max = this.options.maxBatchSize;
    const scored = [new RouteRows(this.slot(plan.primary), max)];
    if (plan.canary !== undefined) scored.push(new RouteRows(this.slot(plan.canary.model), max));
    const shadow = plan.shadow === undefined ? undefined : new RouteRows(this.slot(plan.shadow), max);
    return { scored, shadow, all: shadow === undefined ? scored : [...scored, shadow] };
  }

  /** Decodes each message (unless `predecoded`) and writes its features as a row of its route (and of the shadow). */
  private place(plan: ServingPlan, routes: Routes, messages: readonly SourceMessage[], predecoded: readonly unknown[] | undefined): Placement {
    const n = messages.length;
    const canary = plan.canary;
    const { scored, shadow } = routes;
    const p: Placement = {
      routeOf: new Int8Array(n),
      rowOf: new Int32Array(n),
      shadowRowOf: shadow === undefined ? undefined : new Int32Array(n),
      events: this.options.keepEvents === true ? new Array<unknown>(n) : undefined,
      errors: undefined,
      canaryFallbacks: 0,
    };
    for (let i = 0; i < n; i++) {
      const m = messages[i]!;
      let r = canary !== undefined && inShare(m.key, canary.share) ? CANARY : PRIMARY;
      let event: unknown;
      let bad: PoisonEventError | undefined;
      try {
        event = predecoded === undefined ? this.decoder.decode(m.value) : predecoded[i];
        bad = this.addRow(scored[r]!, event);
        // An event the canary cannot score (it needs a feature the event lacks) goes to the primary.
        if (bad !== undefined && r === CANARY && bad.reason !== 'decode-error' && this.addRow(scored[PRIMARY]!, event) === undefined) {
          bad = undefined;
          r = PRIMARY;
          p.canaryFallbacks++;
        }
      } catch (err) {
        if (!(err instanceof PoisonEventError)) throw err;
        bad = err;
      }
      if (bad !== undefined) {
        (p.errors ??= [])[i] = bad;
        p.routeOf[i] = POISON;
        continue;
      }
      p.routeOf[i] = r;
      p.rowOf[i] = scored[r]!.rows - 1;
      if (p.events !== undefined) p.events[i] = event;
      if (shadow !== undefined) p.shadowRowOf![i] = shadow.add(event) < 0 ? shadow.rows - 1 : -1;
    }
    return p;
  }

  /** Adds the event as the route's next row; the reason it cannot be, or undefined. */
  private addRow(route: RouteRows, event: unknown): PoisonEventError | undefined {
    const badIndex = route.add(event);
    return badIndex < 0 ? undefined : route.slot.format.explain(event, badIndex);
  }

  private outcomes(messages: readonly SourceMessage[], routes: Routes, p: Placement, slices: BatchSlice[][], to: Destinations | undefined): RecordOutcome[] {
    const max = this.options.maxBatchSize;
    const primary = routes.scored[PRIMARY]!.slot.live;
    const shadowSlices = routes.shadow === undefined ? undefined : slices[routes.all.length - 1]!;
    const out = new Array<RecordOutcome>(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const source = messages[i]!;
      const r = p.routeOf[i]!;
      if (r === POISON) {
        const err = p.errors![i]!;
        out[i] = { kind: 'dead-letter', source, reason: err.reason, detail: err.message, model: primary.name, version: primary.version, to };
        continue;
      }
      const prediction = recordAt(slices[r]!, p.rowOf[i]!, max, routes.scored[r]!.slot.live);
      const shadowRow = p.shadowRowOf?.[i] ?? -1;
      const shadow = shadowRow >= 0 ? recordAt(shadowSlices!, shadowRow, max, routes.shadow!.slot.live) : undefined;
      const role: ScoredRole = r === CANARY ? 'canary' : 'primary';
      out[i] = {
        kind: 'scored',
        source,
        to,
        role,
        prediction,
        ...(shadow === undefined ? {} : { shadow }),
        ...(p.events === undefined ? {} : { event: p.events[i] }),
      };
    }
    return out;
  }

  /** Tells the observer what a delivered batch did for one model: predictions, dead letters, shadow agreement. */
  private report(part: RoutedPart, topic: string, partition: number): BatchCounts {
    const { outcomes, shadowed, model } = part;
    const timestamps = new Float64Array(outcomes.length);
    let predictions = 0;
    let deadLetters = 0;
    let oldest = Number.POSITIVE_INFINITY;
    let agree = 0;
    let disagree = 0;
    let diffs: number[] | undefined;
    for (const o of outcomes) {
      if (o.kind === 'dead-letter') {
        deadLetters++;
        this.observer.deadLettered?.(o.reason, 1, o.model ?? '');
        continue;
      }
      const ts = Number(o.source.timestamp);
      timestamps[predictions++] = ts;
      if (ts < oldest) oldest = ts;
      if (o.shadow === undefined) continue;
      const sa = scoreOf(o.prediction);
      const sb = scoreOf(o.shadow);
      if (agrees(o.prediction.label, sa, o.shadow.label, sb, SHADOW_AGREEMENT)) agree++;
      else disagree++;
      if (Number.isFinite(sa) && Number.isFinite(sb)) (diffs ??= []).push(Math.abs(sa - sb));
    }
    if (predictions > 0) {
      this.observer.predictionsPublished?.(predictions, oldest, model, topic, partition);
      this.observer.predictionsAcknowledged?.(timestamps.subarray(0, predictions), Date.now(), model);
    }
    if (shadowed) this.observer.shadowCompared?.(agree, disagree, diffs ?? [], model);
    return { predictions, deadLetters };
  }

  private slot(live: LiveModel): ModelSlot {
    let slot = this.slots.get(live);
    if (slot === undefined) {
      slot = new ModelSlot(live, this.options, this.observer, this.location);
      this.slots.set(live, slot);
    }
    return slot;
  }

  /** Forgets the slots of the model's versions its current plan no longer uses, once no batch uses them. */
  private dropUnusedSlots(plan: ServingPlan): void {
    if (this.slots.size <= 1) return;
    const { primary, canary, shadow } = plan;
    for (const [live, slot] of this.slots) {
      if (live === primary || live === canary?.model || live === shadow || slot.users > 0) continue;
      // Other models' slots belong to their own plans.
      if (live.name === primary.name) this.slots.delete(live);
    }
  }
}

function recordAt(slices: BatchSlice[], row: number, max: number, live: LiveModel): PredictionRecord {
  const slice = slices[(row / max) | 0]!;
  return predictionRecord(slice.batch, slice.start + (row % max), live.name, live.version);
}
