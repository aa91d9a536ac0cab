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

const JOB_LABELS = ['job', 'job_id', 'id', 'replay', 'name'];

/**
 * Replay jobs, from every `kscore_replay_*` series that carries a job label: one entry per job
 * with its figures by metric (the prefix stripped, values summed over other labels) and, when the
 * figures allow it, its progress from 0 to 1. Progress is taken from a `*progress*` or `*ratio*`
 * gauge, else from a done count over a total (`*_done|processed|scored|events*` over
 * `*_total|target|planned|expected*`).
 * @returns {{ job: string, labels: Record<string, string>, figures: Record<string, number>, progress: number | undefined }[]}
 */
export function replayJobs(families) {
  const jobs = new Map();
  for (const f of families.values()) {
    if (!f.name.startsWith('kscore_replay_')) continue;
    for (const s of f.samples) {
      if (s.name.endsWith('_bucket') || s.name.endsWith('_created')) continue;
      const key = JOB_LABELS.find((l) => s.labels[l] !== undefined);
      if (key === undefined) continue;
      const id = s.labels[key];
      let job = jobs.get(id);
      if (job === undefined) {
        job = { job: id, labels: {}, figures: {}, progress: undefined };
        jobs.set(id, job);
      }
      for (const [k, v] of Object.entries(s.labels)) if (k !== key && k !== 'le' && isDescriptive(k)) job.labels[k] = v;
      const figure = s.name.slice('kscore_replay_'.length);
      job.figures[figure] = (job.figures[figure] ?? 0) + s.value;
    }
  }
  for (const job of jobs.values()) job.progress = progressOf(job.figures);
  return [...jobs.values()].sort((a, b) => a.job.localeCompare(b.job));
}

// Labels that say what a job is (shown beside it); per-partition or per-reason splits are not.
function isDescriptive(label) {
  return !['partition', 'reason', 'outcome', 'quantile'].includes(label);
}

function progressOf(figures) {
  const names = Object.keys(figures);
  const direct = names.find((n) => /progress|ratio|fraction/.test(n));
  if (direct !== undefined) {
    const v = figures[direct];
    return clamp01(v > 1 && v <= 100 ? v / 100 : v);
  }
  const total = names.find((n) => /(^|_)(target|planned|expected|end)(_|$)|total_events|events_total_planned/.test(n));
  const done = names.find((n) => n !== total && /(^|_)(done|processed|scored|replayed|events|messages)(_|$)/.test(n));
  if (total === undefined || done === undefined || !(figures[total] > 0)) return undefined;
  return clamp01(figures[done] / figures[total]);
}

function clamp01(v) {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : undefined;
}
