import { readParamsJson } from '../params-file.js';
import { parseArgs } from 'node:util';
import { connectRedis, modelStoreFor } from '../../registry/index.js';
import { timeSchema } from '../../replay/types.js';
import { scheduleStoreFor, schedulesFor, type ScheduleInput, type ScheduleView } from '../../schedule/index.js';
import { cliActor, connectionFlags, connectionOverrides, makeContext } from '../context.js';
import { UsageError } from './model.js';

export const scheduleHelp = `kscore schedule create --id ID --cron EXPR [--tz ZONE]
              --range previous-day|previous-hour|last-hours:N|since-previous-run [--first-from T]
              [--topic T] [--model NAME] [--version V | --alias A]
              [--output-topic T [--dead-letter-topic T] | --into-live-topic | --output-file PATH [--format jsonl|parquet]]
              [--catch-up latest|all|none] [--attempts N] [--retry-delay MS] [--start-at T] [--threads N]
              [--description TEXT] | --params FILE|-
  Scheduled batch scoring: at each firing of EXPR (cron, read in ZONE; default UTC) the service
  replays the range relative to the firing: the previous calendar day or hour by event time, the
  last N hours, or everything since the previous run ended (by offsets). Output names may hold
  {date}, {hour}, {start}, {firing} and {schedule}; a file path is relative to the service's
  KSCORE_REPLAY_OUTPUT_DIR. --params takes the whole schedule as JSON (docs/schedules.md).
kscore schedule list | show ID [--limit 20] | pause ID | resume ID | delete ID
kscore schedule run-now ID [--at T]     a run of firing T (default now), outside the cron expression`;

const flags = {
  ...connectionFlags,
  id: { type: 'string' },
  cron: { type: 'string' },
  tz: { type: 'string' },
  range: { type: 'string' },
  'first-from': { type: 'string' },
  topic: { type: 'string' },
  model: { type: 'string' },
  version: { type: 'string' },
  alias: { type: 'string' },
  'output-topic': { type: 'string' },
  'dead-letter-topic': { type: 'string' },
  'into-live-topic': { type: 'boolean' },
  'output-file': { type: 'string' },
  format: { type: 'string' },
  'catch-up': { type: 'string' },
  attempts: { type: 'string' },
  'retry-delay': { type: 'string' },
  'start-at': { type: 'string' },
  threads: { type: 'string' },
  description: { type: 'string' },
  params: { type: 'string' },
  limit: { type: 'string' },
  at: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof flags; allowPositionals: true }>>['values'];

export async function schedule(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: flags, allowPositionals: true });
  const [sub, id] = positionals;
  const { config, log } = makeContext(connectionOverrides(values));
  const redis = connectRedis(config, log);
  await redis.connect();
  const schedules = schedulesFor(scheduleStoreFor(redis, config), modelStoreFor(redis, config), config);
  const actor = cliActor();
  const needId = (): string => {
    if (id === undefined) throw new UsageError(`schedule ${sub} needs a schedule id`);
    return id;
  };
  try {
    switch (sub) {
      case 'create':
        return print(await schedules.create(await definitionFrom(values), actor));
      case 'list':
        return print((await schedules.list()).map(summary));
      case 'show': {
        const s = await schedules.get(needId(), int('limit', values.limit) ?? 20);
        if (s === undefined) throw new UsageError(`no schedule ${id}`);
        return print(s);
      }
      case 'pause':
        return print(summary(await schedules.pause(needId(), actor)));
      case 'resume':
        return print(summary(await schedules.resume(needId(), actor)));
      case 'delete':
        await schedules.delete(needId(), actor);
        return print({ deleted: id });
      case 'run-now': {
        const at = values.at === undefined ? undefined : timeSchema.safeParse(values.at);
        if (at !== undefined && !at.success) throw new UsageError('--at must be epoch ms or an ISO-8601 time with a zone');
        return print({ ...(await schedules.runNow(needId(), actor, at?.data)), note: 'a replica of the service starts it at its next tick' });
      }
      default:
        throw new UsageError(`unknown schedule command "${sub ?? ''}"\n${scheduleHelp}`);
    }
  } finally {
    await redis.quit();
  }
}

/** The schedule from --params (JSON, a file or - for stdin) or from the flags. */
async function definitionFrom(v: Values): Promise<ScheduleInput> {
  if (v.params !== undefined) {
    return (await readParamsJson(v.params)) as ScheduleInput;
  }
  if (v.id === undefined || v.cron === undefined || v.range === undefined) throw new UsageError('schedule create needs --id, --cron and --range (or --params)');
  const output =
    v['output-file'] !== undefined
      ? { kind: 'file', path: v['output-file'], format: v.format ?? 'jsonl' }
      : v['output-topic'] !== undefined || v['dead-letter-topic'] !== undefined || v['into-live-topic'] === true
        ? { kind: 'topic', ...(v['output-topic'] ? { topic: v['output-topic'] } : {}), ...(v['dead-letter-topic'] ? { deadLetterTopic: v['dead-letter-topic'] } : {}), ...(v['into-live-topic'] ? { live: true } : {}) }
        : undefined;
  const model = { ...(v.model ? { name: v.model } : {}), ...(v.version ? { version: v.version } : {}), ...(v.alias ? { alias: v.alias } : {}) };
  const threads = int('threads', v.threads);
  const replay = {
    ...(v.topic ? { source: { topic: v.topic } } : {}),
    ...(Object.keys(model).length > 0 ? { model } : {}),
    ...(output ? { output } : {}),
    ...(threads === undefined ? {} : { tuning: { threads } }),
  };
  const attempts = int('attempts', v.attempts);
  const delayMs = int('retry-delay', v['retry-delay']);
  return {
    id: v.id,
    cron: v.cron,
    ...(v.tz ? { timeZone: v.tz } : {}),
    range: rangeFrom(v.range, v['first-from']),
    replay,
    ...(v['catch-up'] ? { catchUp: v['catch-up'] as 'latest' } : {}),
    retry: { ...(attempts === undefined ? {} : { attempts }), ...(delayMs === undefined ? {} : { delayMs }) },
    ...(v['start-at'] ? { startAt: v['start-at'] } : {}),
    ...(v.description ? { description: v.description } : {}),
  };
}

function rangeFrom(text: string, firstFrom: string | undefined): ScheduleInput['range'] {
  if (firstFrom !== undefined && text !== 'since-previous-run') throw new UsageError('--first-from goes with --range since-previous-run');
  if (text === 'previous-day' || text === 'previous-hour') return { kind: text };
  if (text === 'since-previous-run') return { kind: text, ...(firstFrom === undefined ? {} : { firstFrom }) };
  const m = /^last-hours:(\d+)$/.exec(text);
  if (m !== null) return { kind: 'last-hours', hours: Number(m[1]) };
  throw new UsageError('--range must be previous-day, previous-hour, last-hours:N or since-previous-run');
}

function int(name: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new UsageError(`--${name} must be a whole number`);
  return Number(s);
}

/** A schedule's line in `schedule list`. */
function summary(s: ScheduleView): object {
  return {
    id: s.id,
    cron: `${s.cron} (${s.timeZone})`,
    range: s.range.kind,
    paused: s.paused,
    nextRunAt: s.nextRunAt,
    running: s.running,
    lastRun: s.lastRun === null ? null : { firingAt: s.lastRun.firingAt, state: s.lastRun.state, jobId: s.lastRun.jobId, ...(s.lastRun.error ? { error: s.lastRun.error } : {}) },
  };
}

function print(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}
