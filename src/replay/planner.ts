import { resolve as resolvePath } from 'node:path';
import type { Config } from '../config/index.js';
import { routeOfModel, routeTable, type Route } from '../config/routes.js';
import { errorMessage } from '../errors.js';
import { KAFKA_CODES, KafkaError, type Admin } from '../kafka/index.js';
import type { ModelArtifact, ModelVersionMeta } from '../registry/index.js';
import { usableCpus } from './cpus.js';
import { ReplayParamsError, defaultUnitSize, edgeOffsets, resolveRanges, selectPartitions, splitUnits, type EdgeOffsets } from './range.js';
import type { ModelRef, PinnedModel, PlannedOutput, RangeEdge, ReplayParams, ReplayPlan } from './types.js';

/** What replay reads of the registry (RedisModelStore implements it). */
export interface ReplayModelSource {
  resolveAlias(name: string, alias: string): Promise<string | undefined>;
  getMeta(name: string, version: string): Promise<ModelVersionMeta | undefined>;
  getVersion(name: string, version: string): Promise<ModelArtifact | undefined>;
}

export interface PlannerDeps {
  admin: Admin;
  models: ReplayModelSource;
  config: Config;
}

/**
 * Resolves everything a job needs once, when it starts, so that it is fixed for its lifetime
 * (resumes included): the source partitions and their `[start, end)` (times become offsets, "the
 * end" becomes the high watermark now), the model version behind an alias, and the output.
 * A job for `shards` processes gets enough units for all of their threads.
 */
export async function planReplay(params: ReplayParams, deps: PlannerDeps, shards = 1): Promise<ReplayPlan> {
  const { admin, config } = deps;
  const name = params.model.name ?? defaultModel(config);
  const route = routeOf(config, name, params);
  const topic = params.source.topic ?? (params.source.deadLetters ? route!.deadLetterTopic : route!.topic);
  let available: number[];
  try {
    available = await admin.partitions(topic);
  } catch (err) {
    if (err instanceof KafkaError && err.code === KAFKA_CODES.unknownTopic) throw new ReplayParamsError(`topic ${topic} does not exist`);
    if (err instanceof KafkaError && err.canRetry) throw err;
    throw new ReplayParamsError(`cannot read topic ${topic}: ${errorMessage(err)}`);
  }
  const partitions = selectPartitions(topic, available, params.source.partitions);
  const watermarks = await admin.watermarks(topic);

  const byTime = async (edge: RangeEdge | undefined): Promise<EdgeOffsets | undefined> => {
    if (edge === undefined || !('time' in edge)) return undefined;
    const found = await admin.offsetsForTime(topic, edge.time);
    return new Map(found.map((f) => [f.partition, f.offset]));
  };
  const from = edgeOffsets(params.from, partitions, await byTime(params.from));
  const to = edgeOffsets(params.to, partitions, await byTime(params.to));
  const { ranges, warnings } = resolveRanges(topic, watermarks, partitions, from, to);

  const model = await pin(deps.models, { ...params.model, name }, route?.alias ?? config.modelAlias);
  const compare =
    params.compare === undefined ? undefined : await pin(deps.models, { ...params.compare.model, name: params.compare.model.name ?? name }, undefined);

  let output: PlannedOutput;
  if (params.compare !== undefined) {
    output = { kind: 'compare' };
  } else if (params.output?.kind === 'file') {
    output = { kind: 'file', path: resolvePath(params.output.path), format: params.output.format };
  } else {
    const out = topicOutput(params.output, name, route, liveTopics(config));
    if (out.topic === topic) throw new ReplayParamsError(`the output topic cannot be the source topic (${topic})`);
    if (out.topic === out.deadLetterTopic) throw new ReplayParamsError('the output and dead-letter topics must differ');
    output = out;
  }

  const offsets = ranges.reduce((s, r) => s + (r.end - r.start), 0);
  const asked = params.tuning.threads ?? usableCpus();
  // Sharded, the units are dealt to every shard's threads.
  const unitSize = params.tuning.unitSize ?? defaultUnitSize(offsets, asked * shards);
  const units = splitUnits(ranges, unitSize);
  return {
    sourceTopic: topic,
    ranges,
    units,
    model,
    ...(compare === undefined ? {} : { compare }),
    output,
    offsets,
    threads: Math.max(1, Math.min(asked, units.length)),
    warnings,
    resolvedAt: new Date().toISOString(),
  };
}

/** The topic a replay writes predictions into unless it names one: never the live one. */
export function backfillTopic(topic: string): string {
  return `${topic}.backfill`;
}

/**
 * Where a topic output goes. Downstream consumers of a live predictions topic must not see a
 * second prediction for an old event without asking for it: with no topic named, a replay writes
 * into the backfill topics of its model's route, and into that route's live predictions topic only
 * with `live` (which the job records in the audit log). No live predictions topic of the service
 * (any route's, with a routing table) is written without `live`.
 */
function topicOutput(asked: ReplayParams['output'], model: string, route: Route | undefined, live: ReadonlySet<string>): Extract<PlannedOutput, { kind: 'topic' }> {
  const intoLive = asked?.kind === 'topic' && asked.live === true;
  const named = asked?.kind === 'topic' ? asked : undefined;
  if (route === undefined) {
    // routeOf has checked that the request names both topics.
    if (intoLive) throw new ReplayParamsError(`output.live writes into the live predictions topic of the model's route, and model ${model} has none in KSCORE_ROUTES`);
    if (live.has(named!.topic!)) throw liveTopicError(named!.topic!);
    return { kind: 'topic', topic: named!.topic!, deadLetterTopic: named!.deadLetterTopic! };
  }
  const liveTopic = route.predictionsTopic;
  if (intoLive && named?.topic !== undefined && named.topic !== liveTopic) {
    throw new ReplayParamsError(`output.live writes into the live predictions topic ${liveTopic}: leave output.topic out, or name ${named.topic} without output.live`);
  }
  const topic = named?.topic ?? (intoLive ? liveTopic : backfillTopic(liveTopic));
  if (live.has(topic) && !intoLive) throw liveTopicError(topic);
  const deadLetterTopic = named?.deadLetterTopic ?? (intoLive ? route.deadLetterTopic : backfillTopic(route.deadLetterTopic));
  return { kind: 'topic', topic, deadLetterTopic, ...(intoLive ? { live: true as const } : {}) };
}

function liveTopicError(topic: string): ReplayParamsError {
  return new ReplayParamsError(
    `${topic} is the live predictions topic: its consumers would see a second prediction for old events. ` +
      `Write into another topic (the default is ${backfillTopic(topic)}), or pass output.live: true (kscore replay --into-live-topic), which is recorded in the audit log`,
  );
}

/** The service's live predictions topics: the single-model setting's, or every route's. */
function liveTopics(config: Config): ReadonlySet<string> {
  return new Set(routeTable(config).routes.map((r) => r.predictionsTopic));
}

/** The model a replay scores when it names none: the service's (its routing table's first). */
function defaultModel(config: Config): string {
  return routeTable(config).routes[0]!.model;
}

/**
 * The route whose topics and alias a replay of `model` defaults to. Without a routing table that is
 * the single-model settings' one route, whichever model the replay names; with one, the model's
 * first route, and a model the table does not route needs its topics named in the request.
 */
function routeOf(config: Config, model: string, params: ReplayParams): Route | undefined {
  const table = routeTable(config);
  const route = config.routes === undefined ? table.routes[0] : routeOfModel(table, model);
  if (route !== undefined) return route;
  const needsSource = params.source.topic === undefined;
  const needsOutput = params.compare === undefined && params.output?.kind !== 'file' && (params.output?.topic === undefined || params.output.deadLetterTopic === undefined);
  if (needsSource || needsOutput) throw new ReplayParamsError(`model ${model} has no route in KSCORE_ROUTES: name the source topic and the output topics of the replay`);
  return undefined;
}

/** A version as named (checked to exist), or the version an alias points at now. */
async function pin(models: ReplayModelSource, ref: ModelRef & { name: string }, defaultAlias: string | undefined): Promise<PinnedModel> {
  if (ref.version !== undefined) {
    if ((await models.getMeta(ref.name, ref.version)) === undefined) throw new ReplayParamsError(`model ${ref.name} has no version ${ref.version}`);
    return { name: ref.name, version: ref.version, resolvedFrom: `version ${ref.version}` };
  }
  const alias = ref.alias ?? defaultAlias;
  if (alias === undefined) throw new ReplayParamsError('compare needs a version or an alias of the second model');
  const version = await models.resolveAlias(ref.name, alias);
  if (version === undefined) throw new ReplayParamsError(`model ${ref.name} has no alias ${alias}`);
  return { name: ref.name, version, resolvedFrom: `alias ${alias}` };
}
