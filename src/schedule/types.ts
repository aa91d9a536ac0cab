import { z } from 'zod';
import { NAME_CHARS } from '../config/names.js';
import { timeSchema } from '../replay/types.js';

/**
 * Scheduled batch scoring: a schedule is a replay template plus when it runs (a cron expression
 * in a time zone) and which stretch of the topic each run scores, relative to its firing time.
 * Plain JSON, as `POST /api/v1/schedules` takes it and `kscore schedule create` builds it.
 */

/** A schedule's id: room is left in a job id (`<id>-<firing>`, 128 characters at most). */
export const SCHEDULE_ID = /^[a-zA-Z0-9._-]{1,100}$/;

/** What happens to firings that passed while no replica ran the scheduler (docs/schedules.md). */
export const CATCH_UP_POLICIES = ['latest', 'all', 'none'] as const;
export type CatchUpPolicy = (typeof CATCH_UP_POLICIES)[number];

/** Which records a run scores, given its firing time. */
export const relativeRangeSchema = z.discriminatedUnion('kind', [
  /** The calendar day before the firing's day, in the schedule's zone, by event time. */
  z.object({ kind: z.literal('previous-day') }).strict(),
  /** The hour before the firing's hour, in the schedule's zone, by event time. */
  z.object({ kind: z.literal('previous-hour') }).strict(),
  /** The `hours` hours before the firing time, by event time. */
  z.object({ kind: z.literal('last-hours'), hours: z.number().int().min(1).max(24 * 366) }).strict(),
  /**
   * Every record after the previous run's range, by offsets, up to the end of the log when the run
   * starts: consecutive runs neither overlap nor leave a gap. The first run starts at `firstFrom`
   * (a time), or at the log's start.
   */
  z.object({ kind: z.literal('since-previous-run'), firstFrom: timeSchema.optional() }).strict(),
]);

export const retrySchema = z
  .object({
    /** Attempts in all, the first included, before a run counts as failed. Default 3. */
    attempts: z.number().int().min(1).max(20).default(3),
    /** Wait before the first retry, in ms; doubled for each further one (at most an hour). Default 60000. */
    delayMs: z.number().int().min(0).max(3_600_000).default(60_000),
  })
  .strict();

export const scheduleSchema = z
  .object({
    id: z.string().regex(SCHEDULE_ID, `may hold only ${NAME_CHARS} (1 to 100)`),
    /** Five fields (minute hour day-of-month month day-of-week), or six with seconds first. */
    cron: z.string().min(1).max(200),
    /** IANA time zone the cron expression and the calendar ranges are read in. Default UTC. */
    timeZone: z.string().min(1).default('UTC'),
    range: relativeRangeSchema,
    /**
     * The replay each run starts (docs/replay.md), without `from` and `to` (the range gives them).
     * `output.topic`, `output.deadLetterTopic` and `output.path` may hold placeholders: `{date}`,
     * `{hour}`, `{start}`, `{firing}`, `{schedule}`. A file path is relative to
     * KSCORE_REPLAY_OUTPUT_DIR of the replica that runs it.
     */
    replay: z.record(z.string(), z.unknown()).default({}),
    /** Default: KSCORE_SCHEDULE_CATCH_UP. */
    catchUp: z.enum(CATCH_UP_POLICIES).optional(),
    retry: retrySchema.prefault({}),
    /** Firings from this time on are run. Default: when the schedule is created. */
    startAt: timeSchema.optional(),
    description: z.string().max(500).optional(),
  })
  .strict();

export type ScheduleInput = z.input<typeof scheduleSchema>;
export type ScheduleDefinition = z.output<typeof scheduleSchema>;
export type RelativeRange = z.output<typeof relativeRangeSchema>;

/** A schedule as stored: its definition, and who made it when. */
export interface StoredDefinition extends ScheduleDefinition {
  /** Epoch ms. */
  readonly createdAt: number;
  readonly createdBy: string;
}

/** Where the next "since previous run" range starts: the previous range's end, per partition. */
export interface Carry {
  readonly topic: string;
  readonly offsets: Readonly<Record<string, number>>;
}

/** A schedule's moving parts. */
export interface ScheduleState {
  readonly paused: boolean;
  /** The last cron firing dealt with (run or skipped), epoch ms; firings after it are due. */
  readonly cursor: number;
  /** The firing of the run not finished yet (at most one at a time). */
  readonly active?: number;
  readonly carry?: Carry;
}

export interface StoredSchedule {
  readonly definition: StoredDefinition;
  readonly state: ScheduleState;
}

export type RunState = 'running' | 'retrying' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';
export const FINISHED_RUN_STATES: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'cancelled']);

/** What a run scored: the times asked for, and the offsets they were resolved to. */
export interface RunRange {
  readonly topic: string;
  readonly fromTime?: number;
  readonly toTime?: number;
  readonly partitions: readonly { readonly partition: number; readonly start: number; readonly end: number }[];
}

/** One entry of a schedule's history. */
export interface ScheduleRun {
  /** The firing time it is for, epoch ms (its key in the history). */
  readonly firing: number;
  readonly firingAt: string;
  /** `cron`: a firing of the expression; `manual`: run-now. */
  readonly trigger: 'cron' | 'manual';
  readonly state: RunState;
  /** The replay job, `<schedule>-<firing, UTC>`: a retry or a takeover continues the same job. */
  readonly jobId: string;
  /** Times its job was started or resumed for it. */
  readonly attempts: number;
  /** Failed attempts so far. */
  readonly failures: number;
  /** Retrying: when the next attempt is due, epoch ms. */
  readonly nextAttemptAt?: number;
  readonly range?: RunRange;
  /** Where the predictions went: a topic or a file. */
  readonly output?: string;
  readonly counts?: { readonly offsets: number; readonly predictions: number; readonly deadLetters: number; readonly alreadyWritten: number };
  readonly error?: string;
  /** The replica that claimed it, and the one running it now (after a takeover they differ). */
  readonly claimedBy: string;
  readonly runBy: string;
  readonly claimedAt: number;
  readonly finishedAt?: number;
  /** A skipped entry stands for every firing from `firing` to `until` (catch-up policy). */
  readonly skipped?: { readonly until: number; readonly count: number; readonly capped: boolean; readonly reason: string };
}
