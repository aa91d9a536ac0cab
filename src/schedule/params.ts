import { ServiceError } from '../errors.js';
import { describeIssues, parseReplayParams } from '../replay/params.js';
import { confinePath } from '../replay/paths.js';
import { cronProblem } from './cron.js';
import { resolveRange, type ResolvedRange } from './range.js';
import { fillTemplate, templateValues, unknownPlaceholders } from './template.js';
import { scheduleSchema, type Carry, type ScheduleDefinition } from './types.js';

/** A schedule that cannot be created as asked (or an unknown one). Never retried. */
export class ScheduleParamsError extends ServiceError {
  constructor(message: string, code = 'SCHEDULE_PARAMS') {
    super(code, message);
  }
}

/** The output fields that may hold placeholders. */
const TEMPLATED = ['topic', 'deadLetterTopic', 'path'] as const;

type Template = Record<string, unknown>;

/**
 * Validates a schedule (JSON from HTTP or built by the CLI): the schema, the cron expression and
 * zone, the placeholders, and the replay template itself, as its first run would fill it in.
 */
export function parseSchedule(input: unknown): ScheduleDefinition {
  const parsed = scheduleSchema.safeParse(input);
  if (!parsed.success) throw new ScheduleParamsError(`invalid schedule: ${describeIssues(parsed.error.issues).join('; ')}`);
  const def = parsed.data;
  const problem = cronProblem({ expression: def.cron, timeZone: def.timeZone });
  if (problem !== undefined) throw new ScheduleParamsError(`invalid schedule: ${problem}`);
  for (const edge of ['from', 'to'] as const) {
    if (edge in def.replay) throw new ScheduleParamsError(`invalid schedule: replay.${edge}: a schedule's range gives it; leave it out`);
  }
  const output = outputOf(def.replay);
  for (const field of TEMPLATED) {
    const v = output?.[field];
    if (typeof v !== 'string') continue;
    const unknown = unknownPlaceholders(v);
    if (unknown.length > 0) throw new ScheduleParamsError(`invalid schedule: replay.output.${field}: unknown placeholder {${unknown.join('}, {')}} (known: {date}, {hour}, {start}, {firing}, {schedule})`);
  }
  // As its first run would fill it in (the folder is a stand-in: only the shape is checked here).
  try {
    runParams(def, Date.now(), undefined, { featuresTopic: 'features', deadLetterTopic: 'features.dlq', outputDir: '/output' });
  } catch (err) {
    if (err instanceof ServiceError) throw new ScheduleParamsError(`invalid schedule: ${err.message.replace(/^invalid replay: /, 'replay: ')}`);
    throw err;
  }
  return def;
}

/**
 * Where a run's names and files go. `routeOf`: with a routing table, the source and dead-letter
 * topics of a model's route (the table's first model when the template names none), which a run
 * that names no source topic reads, as its replay will.
 */
export interface RunWhere {
  readonly featuresTopic: string;
  readonly deadLetterTopic: string;
  readonly outputDir: string;
  routeOf?(model: string | undefined): { readonly topic: string; readonly deadLetterTopic: string } | undefined;
}

export interface RunParams {
  /** The replay job's params (validated by ReplayJobs.start). */
  readonly input: Template;
  readonly range: ResolvedRange;
  /** The filled-in output name (topic or full file path), when the template names one. */
  readonly output?: string;
}

/**
 * The replay a run starts (pure): the template with its names filled in, its file path put under
 * `outputDir`, and the range of the firing.
 */
export function runParams(
  def: ScheduleDefinition,
  firing: number,
  carry: Carry | undefined,
  where: RunWhere,
): RunParams {
  const source = (def.replay['source'] ?? {}) as { topic?: unknown; deadLetters?: unknown };
  const model = (def.replay['model'] ?? {}) as { name?: unknown };
  const route = typeof source.topic === 'string' ? undefined : where.routeOf?.(typeof model.name === 'string' ? model.name : undefined);
  const topic = typeof source.topic === 'string' ? source.topic : source.deadLetters === true ? (route?.deadLetterTopic ?? where.deadLetterTopic) : (route?.topic ?? where.featuresTopic);
  const range = resolveRange(def.range, firing, def.timeZone, carry, topic);
  const values = templateValues(def.id, range.labelTime, firing, def.timeZone);
  const asked = outputOf(def.replay);
  let output: Record<string, unknown> | undefined;
  let name: string | undefined;
  if (asked !== undefined) {
    output = { ...asked };
    for (const field of TEMPLATED) if (typeof asked[field] === 'string') output[field] = fillTemplate(asked[field], values);
    if (asked['kind'] === 'file' && typeof output['path'] === 'string') {
      const full = confinePath(where.outputDir, output['path']);
      if (full === undefined) throw new ScheduleParamsError('replay.output.path must be a relative path inside the replay output folder (KSCORE_REPLAY_OUTPUT_DIR)');
      output['path'] = full;
    }
    name = typeof output['path'] === 'string' ? output['path'] : typeof output['topic'] === 'string' ? output['topic'] : undefined;
  }
  const input: Template = {
    ...def.replay,
    ...(output === undefined ? {} : { output }),
    ...(range.from === undefined ? {} : { from: range.from }),
    ...(range.to === undefined ? {} : { to: range.to }),
  };
  parseReplayParams(input);
  return { input, range, ...(name === undefined ? {} : { output: name }) };
}

function outputOf(replay: Template): Record<string, unknown> | undefined {
  const o = replay['output'];
  return typeof o === 'object' && o !== null ? (o as Record<string, unknown>) : undefined;
}
