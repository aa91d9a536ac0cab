// Prometheus text exposition format (0.0.4) parsing and the arithmetic the dashboard does on
// successive scrapes: counter rates and histogram quantiles. A plain ES module with no imports,
// served to the browser as is and imported by the unit tests (types in metrics-parse.d.ts).

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count', '_created'];
const SUMMARY_SUFFIXES = ['_sum', '_count', '_created'];

/** Parses a float as Prometheus writes it (`+Inf`, `-Inf`, `NaN` included). */
export function parseValue(text) {
  switch (text) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
    default:
      return text === '' ? NaN : Number(text);
  }
}

function unescapeText(s, quoted) {
  return s.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c === '\\' ? '\\' : quoted && c === '"' ? '"' : `\\${c}`));
}

/** Reads `{a="1",b="x\"y"}` starting at `line[i] === '{'`; returns the labels and the index after `}`. */
function readLabels(line, i) {
  const labels = {};
  i++; // past '{'
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error('label without "="');
    const name = line.slice(i, eq).trim();
    i = eq + 1;
    while (line[i] === ' ') i++;
    if (line[i] !== '"') throw new Error(`label ${name} without a quoted value`);
    let j = i + 1;
    let raw = '';
    while (j < line.length && line[j] !== '"') {
      if (line[j] === '\\') {
        raw += line.slice(j, j + 2);
        j += 2;
      } else raw += line[j++];
    }
    if (j >= line.length) throw new Error(`label ${name}: unterminated value`);
    labels[name] = unescapeText(raw, true);
    i = j + 1;
  }
}

function familyOf(families, sampleName) {
  const exact = families.get(sampleName);
  if (exact !== undefined) return exact;
  for (const [suffixes, type] of [
    [HISTOGRAM_SUFFIXES, 'histogram'],
    [SUMMARY_SUFFIXES, 'summary'],
    [['_total', '_created'], 'counter'],
  ]) {
    for (const suffix of suffixes) {
      if (!sampleName.endsWith(suffix)) continue;
      const f = families.get(sampleName.slice(0, -suffix.length));
      if (f !== undefined && f.type === type) return f;
    }
  }
  return undefined;
}

function family(families, name) {
  let f = families.get(name);
  if (f === undefined) {
    f = { name, type: 'untyped', help: '', samples: [] };
    families.set(name, f);
  }
  return f;
}

/**
 * Parses a scrape into metric families, keyed by family name (a histogram's `_bucket`, `_sum` and
 * `_count` samples belong to its family). Malformed lines are skipped and counted in `errors`, so
 * one bad line does not blank the whole page.
 * @returns {{ families: Map<string, {name: string, type: string, help: string, samples: {name: string, labels: Record<string, string>, value: number}[]}>, errors: number }}
 */
export function parseMetrics(text) {
  const families = new Map();
  let errors = 0;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (m === null) continue; // an ordinary comment
      const f = family(families, m[2]);
      if (m[1] === 'TYPE') f.type = (m[3] ?? 'untyped').trim();
      else f.help = unescapeText(m[3] ?? '', false);
      continue;
    }
    try {
      const nameEnd = line.search(/[{\s]/);
      if (nameEnd <= 0) throw new Error('no value');
      const name = line.slice(0, nameEnd);
      let labels = {};
      let rest = line.slice(nameEnd);
      if (rest.startsWith('{')) {
        const read = readLabels(line, nameEnd);
        labels = read.labels;
        rest = line.slice(read.end);
      }
      const fields = rest.trim().split(/\s+/);
      if (fields.length < 1 || fields[0] === '') throw new Error('no value');
      const value = parseValue(fields[0]);
      if (Number.isNaN(value) && fields[0] !== 'NaN') throw new Error(`bad value ${fields[0]}`);
      const f = familyOf(families, name) ?? family(families, name);
      f.samples.push({ name, labels, value });
    } catch {
      errors++;
    }
  }
  return { families, errors };
}

function matches(labels, filter) {
  if (filter === undefined) return true;
  for (const [k, v] of Object.entries(filter)) if (labels[k] !== v) return false;
  return true;
}

/** Samples of a family (or of one sample name) whose labels include `filter`; empty when absent. */
export function samples(families, name, filter) {
  const f = families.get(name) ?? familyOf(families, name);
  if (f === undefined) return [];
  return f.samples.filter((s) => s.name === name && matches(s.labels, filter));
}

/** Sum of the matching samples' values, or undefined when there is none. */
export function sumOf(families, name, filter) {
  const found = samples(families, name, filter);
  if (found.length === 0) return undefined;
  return found.reduce((a, s) => a + s.value, 0);
}

/**
 * A histogram summed over its label sets (those matching `filter`): cumulative bucket counts by
 * upper bound, ascending, ending with +Inf; and its count and sum. Undefined when absent.
 * @returns {{ buckets: {le: number, count: number}[], count: number, sum: number } | undefined}
 */
export function histogram(families, name, filter) {
  const bucketSamples = samples(families, `${name}_bucket`, filter);
  if (bucketSamples.length === 0) return undefined;
  const byLe = new Map();
  for (const s of bucketSamples) {
    const le = parseValue(s.labels.le ?? '');
    if (Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  const buckets = [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  const inf = buckets.length > 0 ? buckets[buckets.length - 1].count : 0;
  return {
    buckets,
    count: sumOf(families, `${name}_count`, filter) ?? inf,
    sum: sumOf(families, `${name}_sum`, filter) ?? 0,
  };
}

/** How much a counter grew between two readings; a counter that went down was reset (restart). */
export function counterIncrease(previous, current) {
  if (previous === undefined || current === undefined) return undefined;
  return current >= previous ? current - previous : current;
}

/** Per-second rate of a counter between two readings `seconds` apart. */
export function rate(previous, current, seconds) {
  const inc = counterIncrease(previous, current);
  if (inc === undefined || !(seconds > 0)) return undefined;
  return inc / seconds;
}

/**
 * The observations a histogram gained between two scrapes (bucket by bucket), like Prometheus'
 * `increase()` over its buckets. When any bucket went down the process restarted: the current
 * histogram is then the whole increase. Undefined when either is missing.
 */
export function histogramIncrease(previous, current) {
  if (previous === undefined || current === undefined) return undefined;
  const before = new Map(previous.buckets.map((b) => [b.le, b.count]));
  const reset = current.count < previous.count || current.buckets.some((b) => b.count < (before.get(b.le) ?? 0));
  if (reset) return current;
  return {
    buckets: current.buckets.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) ?? 0) })),
    count: current.count - previous.count,
    sum: current.sum - previous.sum,
  };
}

/**
 * The q-quantile (0..1) of cumulative buckets, as Prometheus' `histogram_quantile` computes it:
 * linear interpolation inside the bucket where the rank falls, the lower bound of the first bucket
 * taken as 0 (when its upper bound is positive), and the highest finite bound when the rank falls
 * in the +Inf bucket. NaN when there are no observations or no +Inf bucket.
 */
export function histogramQuantile(q, buckets) {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  if (sorted.length < 2 || sorted[sorted.length - 1].le !== Infinity) return NaN;
  // Counts must not decrease with the bound (float noise, scrapes taken mid-update).
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].count < sorted[i - 1].count) sorted[i] = { le: sorted[i].le, count: sorted[i - 1].count };
  }
  const total = sorted[sorted.length - 1].count;
  if (!(total > 0)) return NaN;
  const rank = q * total;
  let b = sorted.findIndex((x) => x.count >= rank);
  if (b < 0) b = sorted.length - 1;
  if (b === sorted.length - 1) return sorted[sorted.length - 2].le;
  if (b === 0 && sorted[0].le <= 0) return sorted[0].le;
  const start = b === 0 ? 0 : sorted[b - 1].le;
  const end = sorted[b].le;
  const below = b === 0 ? 0 : sorted[b - 1].count;
  const inBucket = sorted[b].count - below;
  if (inBucket <= 0) return end;
  return start + (end - start) * ((rank - below) / inBucket);
}

/**
 * The label naming a replay job: `replay_job` (not `job`, which Prometheus keeps for the scrape
 * job, so the name survives a scrape unchanged).
 */
const JOB_LABEL = 'replay_job';

const REPLAY_FIGURES = {
  kscore_replay_progress_ratio: 'ratio',
  kscore_replay_offsets_done_total: 'done',
  kscore_replay_offsets_planned: 'planned',
  kscore_replay_rate_per_second: 'ratePerSecond',
  kscore_replay_eta_seconds: 'etaSeconds',
};

/**
 * Replay jobs, from the `kscore_replay_*` series (src/replay/metrics.ts), sorted by id: state (the
 * `kscore_replay_state` series at 1), progress from 0 to 1 (the ratio, else done over planned),
 * offsets done and planned, rate, time left (undefined when unknown) and records written by kind.
 * @returns {{ job: string, state: string | undefined, progress: number | undefined, done: number | undefined, planned: number | undefined, ratePerSecond: number | undefined, etaSeconds: number | undefined, records: Record<string, number> }[]}
 */
export function replayJobs(families) {
  const jobs = new Map();
  const jobOf = (s) => {
    const id = s.labels[JOB_LABEL];
    if (id === undefined) return undefined;
    let job = jobs.get(id);
    if (job === undefined) {
      job = { job: id, state: undefined, progress: undefined, done: undefined, planned: undefined, ratePerSecond: undefined, etaSeconds: undefined, records: {} };
      jobs.set(id, job);
    }
    return job;
  };
  for (const [name, field] of Object.entries(REPLAY_FIGURES)) {
    for (const s of samples(families, name)) {
      const job = jobOf(s);
      if (job !== undefined) job[field] = s.value;
    }
  }
  for (const s of samples(families, 'kscore_replay_records_total')) {
    const job = jobOf(s);
    if (job !== undefined) job.records[s.labels.kind ?? ''] = s.value;
  }
  for (const s of samples(families, 'kscore_replay_state')) {
    const job = jobOf(s);
    if (job !== undefined && s.value === 1) job.state = s.labels.state;
  }
  for (const job of jobs.values()) {
    job.progress = job.ratio ?? (job.planned > 0 && job.done !== undefined ? job.done / job.planned : undefined);
    if (job.progress !== undefined) job.progress = Math.min(1, Math.max(0, job.progress));
    delete job.ratio;
    if (!(job.etaSeconds >= 0)) job.etaSeconds = undefined;
  }
  return [...jobs.values()].sort((a, b) => a.job.localeCompare(b.job));
}

/**
 * Schedules, from the `kscore_schedule_*` gauges (src/schedule/metrics.ts), sorted by id: paused,
 * running, the next firing and when the last run ended (epoch ms; undefined when unknown), and the
 * last run's outcome (the `kscore_schedule_last_run_outcome` series at 1). Every replica shows every
 * schedule, so the last sample of each wins.
 * @returns {{ schedule: string, paused: boolean, running: boolean, nextRunAt: number | undefined, lastRunAt: number | undefined, lastOutcome: string | undefined }[]}
 */
export function schedules(families) {
  const all = new Map();
  const of = (s) => {
    const id = s.labels.schedule;
    if (id === undefined) return undefined;
    let one = all.get(id);
    if (one === undefined) {
      one = { schedule: id, paused: false, running: false, nextRunAt: undefined, lastRunAt: undefined, lastOutcome: undefined };
      all.set(id, one);
    }
    return one;
  };
  const each = (name, apply) => {
    for (const s of samples(families, name)) {
      const one = of(s);
      if (one !== undefined) apply(one, s);
    }
  };
  each('kscore_schedule_paused', (one, s) => (one.paused = s.value === 1));
  each('kscore_schedule_running', (one, s) => (one.running = s.value === 1));
  each('kscore_schedule_next_run_timestamp_seconds', (one, s) => (one.nextRunAt = s.value * 1000));
  each('kscore_schedule_last_run_timestamp_seconds', (one, s) => (one.lastRunAt = s.value * 1000));
  each('kscore_schedule_last_run_outcome', (one, s) => {
    if (s.value === 1) one.lastOutcome = s.labels.outcome;
  });
  return [...all.values()].sort((a, b) => a.schedule.localeCompare(b.schedule));
}
