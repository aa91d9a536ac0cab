import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import type { Admin } from 'kafkajs';
import type { Config } from '../config/index.js';
import { errorMessage } from '../errors.js';
import type { ModelArtifact, ModelVersionMeta } from '../registry/index.js';
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
 */
export async function planReplay(params: ReplayParams, deps: PlannerDeps): Promise<ReplayPlan> {
  const { admin, config } = deps;
  const topic = params.source.topic ?? (params.source.deadLetters ? config.deadLetterTopic : config.featuresTopic);
  let available: number[];
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    available = (meta.topics[0]?.partitions ?? []).map((p) => p.partitionId);
  } catch (err) {
    throw new ReplayParamsError(`cannot read topic ${topic}: ${errorMessage(err)}`);
  }
  if (available.length === 0) throw new ReplayParamsError(`topic ${topic} does not exist`);
  const partitions = selectPartitions(topic, available, params.source.partitions);
  const watermarks = (await admin.fetchTopicOffsets(topic)).map((w) => ({ partition: w.partition, low: Number(w.low), high: Number(w.high) }));

  const byTime = async (edge: RangeEdge | undefined): Promise<EdgeOffsets | undefined> => {
    if (edge === undefined || !('time' in edge)) return undefined;
    const found = await admin.fetchTopicOffsetsByTimestamp(topic, edge.time);
    return new Map(found.map((f) => [f.partition, Number(f.offset)]));
  };
  const from = edgeOffsets(params.from, partitions, await byTime(params.from));
  const to = edgeOffsets(params.to, partitions, await byTime(params.to));
  const { ranges, warnings } = resolveRanges(topic, watermarks, partitions, from, to);

  const name = params.model.name ?? config.modelName;
  const model = await pin(deps.models, { ...params.model, name }, config.modelAlias);
  const compare =
    params.compare === undefined ? undefined : await pin(deps.models, { ...params.compare.model, name: params.compare.model.name ?? name }, undefined);

  let output: PlannedOutput;
  if (params.compare !== undefined) {
    output = { kind: 'compare' };
  } else if (params.output?.kind === 'file') {
    output = { kind: 'file', path: resolvePath(params.output.path), format: params.output.format };
  } else {
    output = {
      kind: 'topic',
      topic: params.output?.topic ?? config.predictionsTopic,
      deadLetterTopic: params.output?.deadLetterTopic ?? config.deadLetterTopic,
    };
    if (output.topic === topic) throw new ReplayParamsError(`the output topic cannot be the source topic (${topic})`);
    if (output.topic === output.deadLetterTopic) throw new ReplayParamsError('the output and dead-letter topics must differ');
  }

  const offsets = ranges.reduce((s, r) => s + (r.end - r.start), 0);
  const asked = params.tuning.threads ?? availableParallelism();
  const unitSize = params.tuning.unitSize ?? defaultUnitSize(offsets, asked);
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
