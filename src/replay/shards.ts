import { NAME_PATTERN } from '../config/names.js';
import type { PartitionRange, ReplayPlan, ReplayProgress, ReplayState, ReplayStatus } from './types.js';
import { ratio } from './progress.js';
import { ReplayParamsError } from './range.js';

/**
 * Sharded jobs: one range scored by N processes together (a Kubernetes Indexed Job of N pods).
 * The job is planned once, by whichever shard comes first; shard I of N runs the units whose index
 * is I modulo N as a job of its own (`<id>.shard-I-of-N`), with its own checkpoint and lease, so a
 * pod that restarts resumes its shard exactly where it was. The job's status adds up its shards.
 */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

const SHARD = /^(\d+)\/(\d+)$/;
/** A job id: a name; a shard's id adds `.shard-I-of-N`. */
export const JOB_ID = NAME_PATTERN;

/** `I/N` as the CLI takes it (0 <= I < N). */
export function parseShard(text: string): Shard {
  const m = SHARD.exec(text.trim());
  if (m === null) throw new ReplayParamsError(`--shard "${text}" must be I/N (shard I of N, from 0)`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > 1024 || index >= count) throw new ReplayParamsError(`--shard "${text}": I must be below N, and N at most 1024`);
  return { index, count };
}

export function shardJobId(jobId: string, shard: Shard): string {
  return `${jobId}.shard-${shard.index}-of-${shard.count}`;
}

/** A file output of shard I of N: `out.jsonl` becomes `out.shard-I-of-N.jsonl` (each pod writes its own file). */
export function shardPath(path: string, shard: Shard): string {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  const tag = `shard-${shard.index}-of-${shard.count}`;
  return dot > slash + 1 ? `${path.slice(0, dot)}.${tag}${path.slice(dot)}` : `${path}.${tag}`;
}

/** The part of the job's plan that shard I of N runs. */
export function shardPlan(plan: ReplayPlan, shard: Shard): ReplayPlan {
  const units = plan.units.filter((_, i) => i % shard.count === shard.index);
  const byPartition = new Map<number, PartitionRange[]>();
  for (const u of units) byPartition.set(u.partition, [...(byPartition.get(u.partition) ?? []), u]);
  const output = plan.output.kind === 'file' ? { ...plan.output, path: shardPath(plan.output.path, shard) } : plan.output;
  return {
    ...plan,
    units,
    ranges: [...byPartition.values()].flat(),
    offsets: units.reduce((s, u) => s + (u.end - u.start), 0),
    threads: Math.max(1, Math.min(plan.threads, units.length)),
    output,
  };
}

/** The job's status from its shards' (missing shards count as pending). */
export function combineShards(parent: ReplayStatus, shards: readonly (ReplayStatus | undefined)[]): ReplayStatus {
  const present = shards.filter((s): s is ReplayStatus => s !== undefined);
  const sum = (f: (p: ReplayProgress) => number): number => present.reduce((acc, s) => acc + f(s.progress), 0);
  const planned = parent.plan?.offsets ?? sum((p) => p.plannedOffsets);
  const done = sum((p) => p.doneOffsets);
  const rate = present.filter((s) => s.state === 'running').reduce((acc, s) => acc + s.progress.ratePerSecond, 0);
  const progress: ReplayProgress = {
    plannedOffsets: planned,
    doneOffsets: done,
    ratio: ratio(done, planned),
    predictions: sum((p) => p.predictions),
    deadLetters: sum((p) => p.deadLetters),
    alreadyWritten: sum((p) => p.alreadyWritten),
    ratePerSecond: rate,
    etaSeconds: rate > 0 ? (planned - done) / rate : null,
    updatedAt: new Date().toISOString(),
  };
  const errors = present.filter((s) => s.error !== undefined).map((s) => `${s.id}: ${s.error}`);
  const finished = present.every((s) => s.finishedAt !== undefined) && present.length === shards.length;
  return {
    ...parent,
    state: combinedState(shards.map((s) => s?.state ?? 'pending')),
    progress,
    runs: present.reduce((acc, s) => acc + s.runs, 0),
    ...(errors.length === 0 ? {} : { error: errors.join('; ') }),
    ...(present.length === 0 ? {} : { startedAt: present.map((s) => s.startedAt ?? s.createdAt).sort()[0]! }),
    ...(finished ? { finishedAt: present.map((s) => s.finishedAt!).sort().pop()! } : {}),
  };
}

/** failed over running over interrupted/cancelled over pending; succeeded only when all are. */
function combinedState(states: readonly ReplayState[]): ReplayState {
  if (states.every((s) => s === 'succeeded')) return 'succeeded';
  for (const s of ['failed', 'running', 'cancelled', 'interrupted'] as const) if (states.includes(s)) return s;
  return states.includes('succeeded') ? 'running' : 'pending';
}
