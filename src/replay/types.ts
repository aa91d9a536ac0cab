import { z } from 'zod';
import { NAME_CHARS, NAME_PATTERN, TOPIC_PATTERN, VERSION_PATTERN } from '../config/names.js';

/**
 * What a replay is asked to do, as plain JSON: the body of `POST /api/v1/replays` and
 * what `kscore replay` builds from its flags. Ranges are half-open: `from` is inclusive, `to`
 * exclusive, whether given as offsets or as times (see docs/replay.md).
 */
const name = z.string().regex(NAME_PATTERN, `may hold only ${NAME_CHARS}`);
const topicName = z.string().regex(TOPIC_PATTERN, `may hold only ${NAME_CHARS}`);
const offset = z.union([
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  z
    .string()
    .regex(/^\d{1,15}$/, 'must be a whole number')
    .transform(Number),
]);
/** Epoch milliseconds, or an ISO-8601 date-time with a zone (`2026-11-27T10:00:00Z`). */
export const timeSchema = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .min(1)
    .transform((s, ctx) => {
      const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
      if (!Number.isFinite(ms) || (!/^\d+$/.test(s) && !/(Z|[+-]\d\d:?\d\d)$/i.test(s))) {
        ctx.addIssue({ code: 'custom', message: `"${s}" is not epoch milliseconds or an ISO-8601 time with a zone` });
        return z.NEVER;
      }
      return ms;
    }),
]);

/** One end of the range: an offset for every partition, offsets by partition, or a time. */
export const rangeEdgeSchema = z.union([
  z.object({ offset }).strict(),
  z.object({ offsets: z.record(z.string().regex(/^\d+$/, 'partition numbers are keys'), offset) }).strict(),
  z.object({ time: timeSchema }).strict(),
]);

export const modelRefSchema = z
  .object({
    /** Default: the configured model (`KSCORE_MODEL_NAME`). */
    name: name.optional(),
    version: z.string().regex(VERSION_PATTERN).optional(),
    /** Default when no version is given: the configured alias (`KSCORE_MODEL_ALIAS`). */
    alias: name.optional(),
  })
  .strict()
  .refine((m) => m.version === undefined || m.alias === undefined, 'give a version or an alias, not both');

export const outputSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('topic'),
      /**
       * Default: the backfill topic `<predictions topic>.backfill` (the live predictions topic only
       * with `live`).
       */
      topic: topicName.optional(),
      /** Default: `<dead-letter topic>.backfill` (the live dead-letter topic with `live`). */
      deadLetterTopic: topicName.optional(),
      /**
       * Write into the live predictions topic (and dead-letter topic), where consumers see a second
       * prediction for old events. Recorded in the audit log. Default false.
       */
      live: z.boolean().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('file'),
      /** Written by the process that runs the job (the service, or the CLI). */
      path: z.string().min(1),
      format: z.enum(['jsonl', 'parquet']).default('jsonl'),
    })
    .strict(),
]);

export const compareSchema = z
  .object({
    /** The second version: by default of the same model as `model`. */
    model: modelRefSchema,
    /** Field of each event holding its true label (or value, for a regressor). */
    labelField: z.string().min(1).optional(),
    /** `auto`: a classifier when the model has a label or probabilities output, or every score is in [0, 1]. */
    task: z.enum(['auto', 'classification', 'regression']).default('auto'),
    /** A score at or above it is the positive class, for score-only classifiers. Default 0.5. */
    threshold: z.number().min(0).max(1).default(0.5),
    /** Two regressor scores agree when they differ by at most this much. Default 0.01. */
    tolerance: z.number().nonnegative().default(0.01),
  })
  .strict();

export const tuningSchema = z
  .object({
    /** Worker threads, each with its own consumer, pipeline and producer. Default: the machine's cores. */
    threads: z.number().int().min(1).max(64).optional(),
    /** Most rows per onnxruntime call. Default 4096 (online: 512). */
    maxBatchSize: z.number().int().min(1).max(65536).default(4096),
    /** Fetch size per partition, in bytes. Default 8 MiB (online: 1 MiB). */
    fetchBytes: z.number().int().min(65536).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
    /** Fetched batches a thread scores and publishes at once. Default 2. */
    inFlight: z.number().int().min(1).max(16).default(2),
    /** Offsets in one unit of work (a stretch of one partition). Default: about 4 units per thread. */
    unitSize: z.number().int().min(100).optional(),
    /** How often the checkpoint is written, in ms. Default 1000. */
    checkpointIntervalMs: z.number().int().min(100).max(600_000).default(1000),
    /**
     * How often the threads pause between batches so that the output's end can be recorded, in ms.
     * Bounds what a resume must read back from the output. Default 15000.
     */
    markIntervalMs: z.number().int().min(500).max(3_600_000).default(15_000),
  })
  .strict();

export const replayParamsSchema = z
  .object({
    source: z
      .object({
        /** Default: the features topic, or the dead-letter topic when `deadLetters` is set. */
        topic: topicName.optional(),
        /** Replay the dead-letter topic through the current model. */
        deadLetters: z.boolean().default(false),
        /** Default: every partition. */
        partitions: z.array(z.number().int().nonnegative()).min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** Inclusive. Default: the start of each partition. */
    from: rangeEdgeSchema.optional(),
    /** Exclusive. Default: the end of each partition when the job starts. */
    to: rangeEdgeSchema.optional(),
    model: modelRefSchema.default({}),
    /**
     * Default: the backfill topics derived from the predictions and dead-letter topics, never the
     * live ones (see `output.live`). Not allowed with `compare`.
     */
    output: outputSchema.optional(),
    /** Score the range with a second version too and report how they differ; writes no predictions. */
    compare: compareSchema.optional(),
    tuning: tuningSchema.prefault({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.compare !== undefined && p.output !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['output'], message: 'compare mode writes a report, not predictions: leave the output out' });
    }
    if (p.from && p.to && 'time' in p.from && 'time' in p.to && p.to.time < p.from.time) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'the range ends before it starts' });
    }
    if (p.from && p.to && 'offset' in p.from && 'offset' in p.to && p.to.offset < p.from.offset) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'the range ends before it starts' });
    }
  });

export type ReplayParams = z.output<typeof replayParamsSchema>;
export type ReplayParamsInput = z.input<typeof replayParamsSchema>;
export type RangeEdge = z.output<typeof rangeEdgeSchema>;
export type ModelRef = z.output<typeof modelRefSchema>;
export type CompareParams = z.output<typeof compareSchema>;

/** One partition's stretch, `[start, end)` in offsets. */
export interface PartitionRange {
  readonly partition: number;
  readonly start: number;
  readonly end: number;
}

/** A model version fixed when the job was planned. */
export interface PinnedModel {
  readonly name: string;
  readonly version: string;
  /** How it was named: `version 3` or `alias production`. */
  readonly resolvedFrom: string;
}

export type PlannedOutput =
  | { readonly kind: 'topic'; readonly topic: string; readonly deadLetterTopic: string; readonly live?: true }
  | { readonly kind: 'file'; readonly path: string; readonly format: 'jsonl' | 'parquet' }
  | { readonly kind: 'compare' };

/** Everything resolved once, when the job starts, and kept with it: a resume never re-resolves. */
export interface ReplayPlan {
  readonly sourceTopic: string;
  readonly ranges: readonly PartitionRange[];
  /** Units of work: stretches of one partition each, handed to the threads in this order. */
  readonly units: readonly PartitionRange[];
  readonly model: PinnedModel;
  readonly compare?: PinnedModel;
  readonly output: PlannedOutput;
  /** Total offsets in the range. */
  readonly offsets: number;
  readonly threads: number;
  readonly warnings: readonly string[];
  readonly resolvedAt: string;
}

export type ReplayState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export interface ReplayProgress {
  /** Offsets of the range, and how many are done (scored or dead-lettered and acknowledged). */
  readonly plannedOffsets: number;
  readonly doneOffsets: number;
  /** doneOffsets / plannedOffsets; 1 for an empty range. */
  readonly ratio: number;
  readonly predictions: number;
  readonly deadLetters: number;
  /** Records a resume found already in the output, so did not write again. */
  readonly alreadyWritten: number;
  /** Offsets per second over the last few seconds of this run. */
  readonly ratePerSecond: number;
  /** Seconds left at that rate; null while unknown. */
  readonly etaSeconds: number | null;
  readonly updatedAt: string;
}

/** A job as `ReplayJobs.get` and `list` return it: plain JSON. */
export interface ReplayStatus {
  readonly id: string;
  readonly state: ReplayState;
  readonly params: ReplayParams;
  readonly plan?: ReplayPlan;
  readonly progress: ReplayProgress;
  readonly report?: CompareReport;
  readonly error?: string;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** How many times the job was started (1 + resumes). */
  readonly runs: number;
  /** A sharded job: how many shards score it (its status adds theirs up). */
  readonly shards?: number;
  /** A shard: the job it is part of, and which part. */
  readonly shardOf?: { readonly job: string; readonly index: number; readonly count: number };
}

export interface ScoreDiffSummary {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface VersionMetrics {
  /** Area under the ROC curve (binary labels only). */
  readonly auc?: number | null;
  readonly accuracy?: number | null;
  readonly rmse?: number | null;
}

/** Compare mode's answer. */
export interface CompareReport {
  readonly a: PinnedModel;
  readonly b: PinnedModel;
  readonly task: 'classification' | 'regression';
  /** Records in the range; scored by both; dead-lettered by A; scored by A only (bad input for B). */
  readonly records: number;
  readonly compared: number;
  readonly deadLetters: number;
  readonly onlyA: number;
  readonly agreement: { readonly rate: number | null; readonly agree: number; readonly disagree: number; readonly rule: string };
  /** Of |score A - score B| over the compared records; null when the models give no score. */
  readonly scoreDiff: ScoreDiffSummary | null;
  readonly labels?: {
    readonly field: string;
    /** Compared records that carried a usable label. */
    readonly labelled: number;
    readonly a: VersionMetrics;
    readonly b: VersionMetrics;
  };
}
