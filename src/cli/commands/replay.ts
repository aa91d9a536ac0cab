import { writeFile } from 'node:fs/promises';
import { readParamsJson } from '../params-file.js';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import { formatReport } from '../../replay/compare.js';
import { ReplayJobs } from '../../replay/jobs.js';
import { formatCount, formatDuration, progressLine } from '../../replay/progress.js';
import { parseOffsetSpec } from '../../replay/range.js';
import { parseShard } from '../../replay/shards.js';
import type { ReplayParamsInput, ReplayStatus } from '../../replay/types.js';
import { cliActor, connectionFlags, connectionOverrides, makeContext } from '../context.js';
import { UsageError } from './model.js';

export const replayHelp = `kscore replay [--topic T | --from-dead-letters] [--partitions 0,1]
              [--from-offset N|P:N,..] [--to-offset N|P:N,..] [--from-time T] [--to-time T]
              [--model NAME] [--version V | --alias A]
              [--output-topic T] [--dead-letter-topic T] | [--into-live-topic] | [--output-file PATH [--format jsonl|parquet]]
              [--compare V | --compare-alias A [--compare-model NAME] [--label-field F]
               [--task auto|classification|regression] [--threshold 0.5] [--tolerance 0.01] [--report FILE]]
              [--threads N] [--batch-size N] [--fetch-bytes N] [--unit-size N] [--in-flight N]
              [--json] [--params FILE|-] [--job-id ID [--shard I/N]]
  Scores a stretch of a topic's history with a pinned model version (default: the version the
  alias points at when the job starts): backfills, bulk scoring, and with --compare the same range
  scored by two versions, reported side by side. From is inclusive, to exclusive (offsets or
  times: ISO-8601 with a zone, or epoch ms); the default range is the whole topic as it is now.
  Without an output the predictions go to <predictions topic>.backfill and dead letters to
  <dead-letter topic>.backfill; --into-live-topic writes into the live predictions topic instead
  (its consumers see a second prediction per event), recorded in the audit log.
  --params takes the job as JSON (docs/replay.md) instead of flags. Progress on stderr; the final
  status (--json) or the comparison report on stdout; Ctrl-C stops after the batches in flight.
  --job-id names the job; with --shard I/N this process scores shard I of N of it (N processes,
  e.g. a Kubernetes Indexed Job, share the range; run again, a shard resumes where it stopped).
kscore replay --resume ID        resume a replay that stopped (killed, failed, interrupted)
kscore replay list | status ID | cancel ID`;

const flags = {
  ...connectionFlags,
  topic: { type: 'string' },
  'from-dead-letters': { type: 'boolean' },
  partitions: { type: 'string' },
  'from-offset': { type: 'string' },
  'to-offset': { type: 'string' },
  'from-time': { type: 'string' },
  'to-time': { type: 'string' },
  model: { type: 'string' },
  version: { type: 'string' },
  alias: { type: 'string' },
  'output-topic': { type: 'string' },
  'dead-letter-topic': { type: 'string' },
  'output-file': { type: 'string' },
  'into-live-topic': { type: 'boolean' },
  format: { type: 'string' },
  compare: { type: 'string' },
  'compare-alias': { type: 'string' },
  'compare-model': { type: 'string' },
  'label-field': { type: 'string' },
  task: { type: 'string' },
  threshold: { type: 'string' },
  tolerance: { type: 'string' },
  report: { type: 'string' },
  threads: { type: 'string' },
  'batch-size': { type: 'string' },
  'fetch-bytes': { type: 'string' },
  'unit-size': { type: 'string' },
  'in-flight': { type: 'string' },
  json: { type: 'boolean' },
  params: { type: 'string' },
  resume: { type: 'string' },
  'job-id': { type: 'string' },
  shard: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof flags; allowPositionals: true }>>['values'];

export async function replay(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: flags, allowPositionals: true });
  // Quieter than the service by default (the progress bar is the news); --log-level or
  // KSCORE_LOG_LEVEL say otherwise.
  const quiet = values['log-level'] === undefined && process.env['KSCORE_LOG_LEVEL'] === undefined;
  const { config } = makeContext({ ...connectionOverrides(values), ...(quiet ? { logLevel: 'warn' as const } : {}) });
  // Logs to stderr: stdout carries the result (JSON or the report).
  const log = pino({ level: config.logLevel, base: { service: 'kscore' } }, pino.destination(2));
  const jobs = await ReplayJobs.create(config, log);
  try {
    const [sub, id] = positionals;
    if (sub === 'list') return print((await jobs.list()).map(summary));
    if (sub === 'status' || sub === 'cancel') {
      if (id === undefined) throw new UsageError(`replay ${sub} needs a job id`);
      const s = sub === 'status' ? await jobs.get(id) : await jobs.cancel(id);
      if (s === undefined) throw new UsageError(`no replay ${id}`);
      return print(s);
    }
    if (sub !== undefined) throw new UsageError(`unknown replay command "${sub}"\n${replayHelp}`);

    let jobId: string;
    if (values.resume !== undefined) {
      jobId = values.resume;
      await jobs.resume(jobId);
      process.stderr.write(`replay ${jobId}: resuming\n`);
    } else if (values.shard !== undefined) {
      if (values['job-id'] === undefined) throw new UsageError('--shard needs --job-id (the same for every shard)');
      jobId = await jobs.startShard(values['job-id'], parseShard(values.shard), await paramsFrom(values), { actor: cliActor() });
    } else {
      jobId = await jobs.start(await paramsFrom(values), { actor: cliActor(), ...(values['job-id'] === undefined ? {} : { id: values['job-id'] }) });
    }
    const final = await follow(jobs, jobId, log);
    await report(final, values);
    if (final.state === 'interrupted' || final.state === 'cancelled') {
      process.stderr.write(`replay ${jobId} ${final.state}; resume with: kscore replay --resume ${jobId}\n`);
      process.exitCode = 130;
    } else if (final.state !== 'succeeded') {
      process.stderr.write(`replay ${jobId} ${final.state}: ${final.error ?? ''}\nresume with: kscore replay --resume ${jobId}\n`);
      process.exitCode = 1;
    }
  } finally {
    await jobs.close();
  }
}

/** The job params from --params (a JSON file, or - for stdin) or from the flags. */
async function paramsFrom(v: Values): Promise<ReplayParamsInput> {
  if (v.params !== undefined) {
    return (await readParamsJson(v.params)) as ReplayParamsInput;
  }
  const compareRef = v.compare !== undefined || v['compare-alias'] !== undefined;
  if (!compareRef && (v['label-field'] !== undefined || v.report !== undefined)) throw new UsageError('--label-field and --report go with --compare');
  const output = outputFrom(v);
  return {
    source: {
      ...(v.topic === undefined ? {} : { topic: v.topic }),
      deadLetters: v['from-dead-letters'] === true,
      ...(v.partitions === undefined ? {} : { partitions: v.partitions.split(',').map((p) => int('partitions', p.trim())!) }),
    },
    from: edge(v['from-offset'], v['from-time'], 'from'),
    to: edge(v['to-offset'], v['to-time'], 'to'),
    model: { ...(v.model === undefined ? {} : { name: v.model }), ...(v.version === undefined ? {} : { version: v.version }), ...(v.alias === undefined ? {} : { alias: v.alias }) },
    ...(output === undefined ? {} : { output }),
    ...(compareRef ? { compare: compareFrom(v) } : {}),
    tuning: {
      ...(v.threads === undefined ? {} : { threads: int('threads', v.threads) }),
      ...(v['batch-size'] === undefined ? {} : { maxBatchSize: int('batch-size', v['batch-size']) }),
      ...(v['fetch-bytes'] === undefined ? {} : { fetchBytes: int('fetch-bytes', v['fetch-bytes']) }),
      ...(v['unit-size'] === undefined ? {} : { unitSize: int('unit-size', v['unit-size']) }),
      ...(v['in-flight'] === undefined ? {} : { inFlight: int('in-flight', v['in-flight']) }),
    },
  };
}

function int(name: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new UsageError(`--${name} must be a whole number`);
  return Number(s);
}

function num(name: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number`);
  return n;
}

/** One end of the range: an offset spec or a time, not both. */
function edge(offset: string | undefined, time: string | undefined, which: string): ReplayParamsInput['from'] {
  if (offset !== undefined && time !== undefined) throw new UsageError(`give --${which}-offset or --${which}-time, not both`);
  if (offset !== undefined) return parseOffsetSpec(offset);
  if (time !== undefined) return { time };
  return undefined;
}

/** A file output, a topic output, or none (the backfill topics). */
function outputFrom(v: Values): ReplayParamsInput['output'] {
  const live = v['into-live-topic'] === true;
  const toTopic = v['output-topic'] !== undefined || v['dead-letter-topic'] !== undefined || live;
  if (v['output-file'] !== undefined && toTopic) throw new UsageError('give --output-file or --output-topic/--dead-letter-topic/--into-live-topic, not both');
  const format = v.format;
  if (format !== undefined && format !== 'jsonl' && format !== 'parquet') throw new UsageError('--format must be jsonl or parquet');
  if (v['output-file'] !== undefined) return { kind: 'file' as const, path: v['output-file'], format: format ?? 'jsonl' };
  return toTopic ? { kind: 'topic' as const, topic: v['output-topic'], deadLetterTopic: v['dead-letter-topic'], ...(live ? { live } : {}) } : undefined;
}

function compareFrom(v: Values): NonNullable<ReplayParamsInput['compare']> {
  return {
    model: {
      ...(v['compare-model'] === undefined ? {} : { name: v['compare-model'] }),
      ...(v.compare === undefined ? {} : { version: v.compare }),
      ...(v['compare-alias'] === undefined ? {} : { alias: v['compare-alias'] }),
    },
    ...(v['label-field'] === undefined ? {} : { labelField: v['label-field'] }),
    ...(v.task === undefined ? {} : { task: v.task as 'auto' }),
    ...(v.threshold === undefined ? {} : { threshold: num('threshold', v.threshold) }),
    ...(v.tolerance === undefined ? {} : { tolerance: num('tolerance', v.tolerance) }),
  };
}

/**
 * Shows the job's plan and progress on stderr until it ends: a bar redrawn in place on a
 * terminal, a plain line every few seconds otherwise. Ctrl-C (or SIGTERM) stops the job after
 * the batches in flight, resumable; a second one exits at once.
 */
async function follow(jobs: ReplayJobs, id: string, log: Logger): Promise<ReplayStatus> {
  const tty = process.stderr.isTTY === true;
  const first = await jobs.get(id);
  if (first?.plan !== undefined) {
    const p = first.plan;
    const out = p.output.kind === 'topic' ? `topics ${p.output.topic} / ${p.output.deadLetterTopic}` : p.output.kind === 'file' ? `file ${p.output.path} (${p.output.format})` : 'a comparison report';
    process.stderr.write(
      `replay ${id}: ${p.sourceTopic} partitions ${p.ranges.map((r) => `${r.partition}:[${r.start},${r.end})`).join(' ')}, ` +
        `${p.offsets} offsets, model ${p.model.name} v${p.model.version} (${p.model.resolvedFrom})` +
        `${p.compare ? ` vs v${p.compare.version} (${p.compare.resolvedFrom})` : ''} -> ${out}, ${p.threads} thread(s)\n`,
    );
    for (const w of p.warnings) process.stderr.write(`warning: ${w}\n`);
  }
  let signalled = false;
  const onSignal = (): void => {
    if (signalled) process.exit(130);
    signalled = true;
    process.stderr.write(`\nstopping replay ${id} after the batches in flight (again to exit at once)\n`);
    jobs.close().catch((err: unknown) => log.error({ err }, 'stopping failed'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let lastPlain = 0;
  const draw = async (): Promise<void> => {
    const s = await jobs.get(id).catch(() => undefined);
    if (s === undefined) return;
    const line = progressLine({ done: s.progress.doneOffsets, planned: s.progress.plannedOffsets, ratePerSecond: s.progress.ratePerSecond, etaSeconds: s.progress.etaSeconds, predictions: s.progress.predictions, deadLetters: s.progress.deadLetters });
    if (tty) process.stderr.write(`\r\x1b[2K${line}`);
    else if (Date.now() - lastPlain >= 5000) {
      lastPlain = Date.now();
      process.stderr.write(`${line}\n`);
    }
  };
  const timer = setInterval(() => void draw(), tty ? 250 : 1000);
  try {
    const final = (await jobs.wait(id)) ?? (await jobs.get(id));
    if (final === undefined) throw new Error(`replay ${id} vanished`);
    clearInterval(timer);
    if (tty) process.stderr.write('\r\x1b[2K');
    const p = final.progress;
    const secs = final.startedAt && final.finishedAt ? (Date.parse(final.finishedAt) - Date.parse(final.startedAt)) / 1000 : null;
    process.stderr.write(
      `replay ${id} ${final.state}: ${formatCount(p.doneOffsets)}/${formatCount(p.plannedOffsets)} offsets, ` +
        `${p.predictions} predictions, ${p.deadLetters} dead letters${p.alreadyWritten > 0 ? `, ${p.alreadyWritten} found already written` : ''}` +
        `${secs === null ? '' : ` in ${formatDuration(secs)}`}\n`,
    );
    return final;
  } finally {
    clearInterval(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function report(final: ReplayStatus, v: Values): Promise<void> {
  if (final.report !== undefined && v.report !== undefined) await writeFile(v.report, `${JSON.stringify(final.report, null, 2)}\n`);
  if (v.json === true) return print(final);
  if (final.report !== undefined) process.stdout.write(`${formatReport(final.report)}\n`);
}

/** A line's worth of a job, for `replay list`. */
function summary(s: ReplayStatus): object {
  return {
    id: s.id,
    state: s.state,
    source: s.plan?.sourceTopic,
    model: s.plan === undefined ? undefined : `${s.plan.model.name} v${s.plan.model.version}${s.plan.compare ? ` vs v${s.plan.compare.version}` : ''}`,
    output: s.plan?.output.kind === 'topic' ? s.plan.output.topic : s.plan?.output.kind === 'file' ? s.plan.output.path : s.plan?.output.kind,
    done: `${s.progress.doneOffsets}/${s.progress.plannedOffsets}`,
    createdAt: s.createdAt,
    ...(s.finishedAt === undefined ? {} : { finishedAt: s.finishedAt }),
    ...(s.error === undefined ? {} : { error: s.error }),
  };
}

function print(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}
