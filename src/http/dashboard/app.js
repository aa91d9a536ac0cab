// The dashboard: polls the service's own /metrics every 2 s, keeps the last five minutes of
// scrapes in memory, and draws tiles, charts and tables from them. Rates and percentiles are
// computed here, over the last 10 s, from the difference between two scrapes.

import { drawLineChart } from './charts.js';
import { formatBytes, formatCount, formatNumber, formatPercent, formatRate, formatSeconds } from './format.js';
import { histogram, histogramIncrease, histogramQuantile, parseMetrics, rate, replayJobs, samples, schedules } from './metrics-parse.js';

const POLL_MS = 2000;
const TIMEOUT_MS = 5000;
/** Rates and percentiles are taken over this many seconds. */
const WINDOW_S = 10;
/** What the charts keep. */
const HISTORY_S = 300;
const PSI_SHIFT = 0.1;
const PSI_DRIFT = 0.2;

const M = {
  lag: 'kscore_consumer_lag',
  eventsIn: 'kscore_events_in_total',
  predictions: 'kscore_predictions_total',
  deadLetters: 'kscore_dead_letters_total',
  endToEnd: 'kscore_end_to_end_seconds',
  scoring: 'kscore_scoring_seconds',
  batch: 'kscore_batch_size',
  modelInfo: 'kscore_model_info',
  canaryShare: 'kscore_canary_share',
  drift: 'kscore_feature_drift_psi',
  memory: 'process_resident_memory_bytes',
};

/** Scrapes (newest last) reduced to what the charts need, and the derived points. */
const scrapes = [];
const points = [];
let latest; // the newest scrape's families
let lastSuccess;
let failures = 0;
/** The model the per-model figures are of ('' for all); several models show a picker. */
let selectedModel = '';
const ofModel = () => (selectedModel === '' ? undefined : { model: selectedModel });

const $ = (id) => document.getElementById(id);

/** `h('td', {class: 'num'}, 'text', child)`: a DOM element; attributes, then children. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** A counter summed over its labels: 0 when the family is declared but has no series yet. */
function counter(families, name, filter) {
  if (!families.has(name)) return undefined;
  return samples(families, name, filter).reduce((a, s) => a + s.value, 0);
}

/** Values summed per value of `label` (across the other labels, e.g. every model). */
function sumBy(found, label) {
  const out = new Map();
  for (const s of found) out.set(s.labels[label] ?? '', (out.get(s.labels[label] ?? '') ?? 0) + s.value);
  return out;
}

function gaugeSum(families, name) {
  const found = samples(families, name);
  return found.length === 0 ? undefined : found.reduce((a, s) => a + s.value, 0);
}

function reduce(families, t) {
  return {
    t,
    eventsIn: counter(families, M.eventsIn),
    predictions: counter(families, M.predictions, ofModel()),
    deadLetters: counter(families, M.deadLetters, ofModel()),
    endToEnd: histogram(families, M.endToEnd, ofModel()),
    scoring: histogram(families, M.scoring, ofModel()),
    batch: histogram(families, M.batch, ofModel()),
    lag: gaugeSum(families, M.lag),
    lagByPartition: new Map(samples(families, M.lag).map((s) => [`${s.labels.topic}/${s.labels.partition}`, s.value])),
    deadByReason: sumBy(samples(families, M.deadLetters, ofModel()), 'reason'),
    memory: gaugeSum(families, M.memory),
  };
}

/** The scrape to compare `now` with: the oldest one within the window (or the one before). */
function reference(now) {
  for (let i = 0; i < scrapes.length - 1; i++) {
    if (scrapes[i].t >= now.t - WINDOW_S - POLL_MS / 2000) return scrapes[i];
  }
  return scrapes.length > 1 ? scrapes[scrapes.length - 2] : undefined;
}

function quantile(ref, now, key, q) {
  const inc = histogramIncrease(ref[key], now[key]);
  return inc !== undefined && inc.count > 0 ? histogramQuantile(q, inc.buckets) : undefined;
}

function derive(now, ref) {
  const memoryMiB = now.memory === undefined ? undefined : now.memory / 1048576;
  if (ref === undefined) return { t: now.t, lag: now.lag, memoryMiB };
  const dt = now.t - ref.t;
  const batchInc = histogramIncrease(ref.batch, now.batch);
  return {
    t: now.t,
    seconds: dt,
    eventsIn: rate(ref.eventsIn, now.eventsIn, dt),
    predictions: rate(ref.predictions, now.predictions, dt),
    deadLetters: rate(ref.deadLetters, now.deadLetters, dt),
    endToEnd50: quantile(ref, now, 'endToEnd', 0.5),
    endToEnd99: quantile(ref, now, 'endToEnd', 0.99),
    scoring50: quantile(ref, now, 'scoring', 0.5),
    scoring99: quantile(ref, now, 'scoring', 0.99),
    batch99: quantile(ref, now, 'batch', 0.99),
    batchMean: batchInc !== undefined && batchInc.count > 0 ? batchInc.sum / batchInc.count : undefined,
    lag: now.lag,
    lagChange: now.lag !== undefined && ref.lag !== undefined ? (now.lag - ref.lag) / dt : undefined,
    memoryMiB,
  };
}

// ---------------------------------------------------------------------------------------------
// Polling

async function poll() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const res = await fetch('metrics', { cache: 'no-store', signal: controller.signal, headers: { accept: 'text/plain' } });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    const text = await res.text();
    const t = Date.now() / 1000;
    const { families, errors } = parseMetrics(text);
    if (errors > 0) console.warn(`dashboard: ${errors} metric lines could not be read`);
    latest = families;
    const snap = reduce(families, t);
    scrapes.push(snap);
    while (scrapes.length > 2 && scrapes[0].t < t - WINDOW_S - 5) scrapes.shift();
    points.push(derive(snap, reference(snap)));
    while (points.length > 0 && points[0].t < t - HISTORY_S) points.shift();
    lastSuccess = t;
    failures = 0;
    document.body.dataset.scrapes = String(Number(document.body.dataset.scrapes ?? 0) + 1);
    showError(undefined);
    render();
  } catch (err) {
    failures++;
    showError(err.name === 'AbortError' ? `no answer within ${TIMEOUT_MS / 1000} s` : err.message);
  } finally {
    clearTimeout(timer);
    setTimeout(poll, POLL_MS);
  }
}

function showError(message) {
  const banner = $('error-banner');
  const status = $('status');
  if (message === undefined) {
    banner.hidden = true;
    status.dataset.state = 'live';
    status.textContent = `live · ${new Date().toLocaleTimeString('en-GB', { hour12: false })}`;
    return;
  }
  const since = lastSuccess === undefined ? 'No figures yet.' : `Showing the figures of ${new Date(lastSuccess * 1000).toLocaleTimeString('en-GB', { hour12: false })}.`;
  banner.replaceChildren(h('strong', {}, 'Cannot read /metrics'), ` (${message}). ${since} Retrying every ${POLL_MS / 1000} s.`);
  banner.hidden = false;
  status.dataset.state = 'error';
  status.textContent = failures > 1 ? `offline · ${failures} failed polls` : 'offline';
  document.body.dataset.failures = String(failures);
}

// ---------------------------------------------------------------------------------------------
// Rendering

function render() {
  const last = points[points.length - 1];
  renderPicker();
  renderModels();
  renderTiles(last);
  renderCharts();
  renderLag();
  renderDeadLetters();
  renderDrift();
  renderReplays();
  renderSchedules();
}

function setTile(id, value, note, raw) {
  const tile = $(id);
  tile.querySelector('.value').textContent = value;
  tile.querySelector('.note').textContent = note;
  if (raw === undefined || Number.isNaN(raw)) delete tile.dataset.value;
  else tile.dataset.value = String(raw);
}

const absent = (name) => `${name} not exported`;

/** The models the service reports (kscore_model_info), offered when there are several. */
function renderPicker() {
  const names = [...new Set(samples(latest, M.modelInfo).map((s) => s.labels.model ?? ''))].filter((n) => n !== '').sort();
  const picker = $('model-picker');
  const have = [...picker.options].slice(1).map((o) => o.value);
  if (have.join('\n') !== names.join('\n')) {
    picker.replaceChildren(h('option', { value: '' }, 'all models'), ...names.map((n) => h('option', { value: n }, n)));
    picker.value = names.includes(selectedModel) ? selectedModel : '';
  }
  $('model-picker-label').hidden = names.length < 2 && selectedModel === '';
}

function renderTiles(p) {
  const now = scrapes[scrapes.length - 1];
  const measuring = p.seconds === undefined;

  if (now.lag === undefined) setTile('tile-lag', '–', absent(M.lag));
  else {
    const trend = p.lagChange === undefined || Math.abs(p.lagChange) < 0.5 ? 'steady' : p.lagChange > 0 ? `growing ${formatRate(p.lagChange)}` : `shrinking ${formatRate(-p.lagChange)}`;
    setTile('tile-lag', formatCount(now.lag), `events behind · ${trend}`, now.lag);
    $('tile-lag').dataset.level = now.lag > 0 && p.lagChange > 0.5 ? 'warn' : 'ok';
  }
  const counterTile = (id, name, key) => {
    if (now[key] === undefined) return setTile(id, '–', absent(name));
    setTile(id, measuring ? '…' : formatRate(p[key]), `${formatCount(now[key])} total`, measuring ? undefined : p[key]);
    $(id).dataset.total = String(now[key]);
  };
  counterTile('tile-in', M.eventsIn, 'eventsIn');
  counterTile('tile-predictions', M.predictions, 'predictions');
  counterTile('tile-dead', M.deadLetters, 'deadLetters');
  $('tile-dead').dataset.level = p.deadLetters > 0 ? 'warn' : 'ok';

  if (now.endToEnd === undefined) setTile('tile-latency', '–', absent(M.endToEnd));
  else if (p.endToEnd99 === undefined) setTile('tile-latency', '–', measuring ? 'measuring' : `no predictions in the last ${WINDOW_S} s`);
  else setTile('tile-latency', formatSeconds(p.endToEnd99), `p50 ${formatSeconds(p.endToEnd50)} · last ${WINDOW_S} s`, p.endToEnd99);

  if (now.memory === undefined) setTile('tile-memory', '–', absent(M.memory));
  else setTile('tile-memory', formatBytes(now.memory), 'resident set', now.memory);
}

function chart(id, series, format, options = {}) {
  const host = $(id);
  const times = points.map((p) => p.t);
  const to = times.length > 0 ? times[times.length - 1] : Date.now() / 1000;
  const span = Math.min(HISTORY_S, Math.max(60, times.length > 0 ? to - times[0] : 0));
  const missingMetric = options.metric !== undefined && !latest.has(options.metric);
  const last = points[points.length - 1];
  $(`${id}-legend`).replaceChildren(
    ...series.map(([label, key, color]) => {
      const chip = h('span', { class: 'chip' });
      chip.style.background = color;
      return h('span', { class: 'legend-item' }, chip, label, h('b', {}, last === undefined ? '–' : format(last[key])));
    }),
  );
  drawLineChart(host, {
    times,
    series: series.map(([label, key, color]) => ({ label, color, values: points.map((p) => p[key]) })),
    from: to - span,
    to,
    format,
    area: options.area ?? false,
    empty: missingMetric ? absent(options.metric) : (options.empty ?? 'no data yet'),
  });
}

function renderCharts() {
  chart(
    'chart-throughput',
    [
      ['in', 'eventsIn', 'var(--c-in)'],
      ['predictions', 'predictions', 'var(--c-out)'],
      ['dead letters', 'deadLetters', 'var(--c-dead)'],
    ],
    formatRate,
    { metric: M.eventsIn },
  );
  chart('chart-lag', [['lag', 'lag', 'var(--c-lag)']], formatNumber, { metric: M.lag, area: true });
  chart(
    'chart-e2e',
    [
      ['p50', 'endToEnd50', 'var(--c-p50)'],
      ['p99', 'endToEnd99', 'var(--c-p99)'],
    ],
    formatSeconds,
    { metric: M.endToEnd, empty: 'no predictions yet' },
  );
  chart(
    'chart-scoring',
    [
      ['p50', 'scoring50', 'var(--c-p50)'],
      ['p99', 'scoring99', 'var(--c-p99)'],
    ],
    formatSeconds,
    { metric: M.scoring, empty: 'no scoring calls yet' },
  );
  chart(
    'chart-batch',
    // No median: batches are often a row or two, where interpolating inside the first bucket
    // (0 to 1) gives fractions of a row.
    [
      ['mean', 'batchMean', 'var(--c-in)'],
      ['p99', 'batch99', 'var(--c-p99)'],
    ],
    formatNumber,
    { metric: M.batch, empty: 'no scoring calls yet' },
  );
  // In MiB, so that the axis steps are round numbers of MiB.
  chart('chart-memory', [['resident', 'memoryMiB', 'var(--c-mem)']], (v) => formatBytes(v * 1048576), { metric: M.memory, area: true });
}

function renderModels() {
  const live = samples(latest, M.modelInfo, ofModel()).filter((s) => s.value === 1);
  const shares = new Map(samples(latest, M.canaryShare).map((s) => [`${s.labels.model}/${s.labels.alias}`, s.value]));
  const canaryTotal = (model) => [...shares].filter(([k]) => k.startsWith(`${model}/`)).reduce((a, [, v]) => a + v, 0);
  const rows = live
    .map((s) => ({ model: s.labels.model ?? '', alias: s.labels.alias ?? '', version: s.labels.version ?? '' }))
    .sort((a, b) => rank(a.alias) - rank(b.alias) || a.alias.localeCompare(b.alias));

  const header = $('live-models');
  if (rows.length === 0) {
    header.replaceChildren(h('span', { class: 'pill pill-bad', 'data-testid': 'no-live-model' }, 'no live model'));
  } else {
    header.replaceChildren(
      ...rows.map((r) =>
        h('span', { class: `pill${r.alias === 'production' ? ' pill-main' : ''}`, dataset: { alias: r.alias, version: r.version } }, h('span', { class: 'pill-alias' }, r.alias), ` ${r.model} v${r.version}`),
      ),
    );
  }

  const body = $('models-body');
  if (!latest.has(M.modelInfo)) return body.replaceChildren(emptyRow(4, absent(M.modelInfo)));
  if (rows.length === 0) return body.replaceChildren(emptyRow(4, 'no version is live: the service waits for a model'));
  body.replaceChildren(
    ...rows.map((r) => {
      const share = shares.get(`${r.model}/${r.alias}`);
      const traffic =
        share !== undefined ? formatPercent(share) : r.alias === 'shadow' ? 'copy of all' : rows.some((o) => shares.has(`${o.model}/${o.alias}`)) ? formatPercent(1 - canaryTotal(r.model)) : '100 %';
      return h(
        'tr',
        { dataset: { alias: r.alias, model: r.model, version: r.version } },
        h('td', {}, h('span', { class: `tag${r.alias === 'production' ? ' tag-main' : ''}` }, r.alias)),
        h('td', {}, r.model),
        h('td', { class: 'num version' }, `v${r.version}`),
        h('td', { class: 'num' }, traffic),
      );
    }),
  );
}

function rank(alias) {
  const order = ['production', 'canary', 'staging', 'shadow'];
  const i = order.indexOf(alias);
  return i < 0 ? order.length : i;
}

function emptyRow(columns, text) {
  return h('tr', { class: 'empty-row' }, h('td', { colspan: columns }, text));
}

function bar(share, level) {
  const fill = h('span', { class: 'bar-fill' });
  fill.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`;
  return h('span', { class: 'bar', dataset: level === undefined ? {} : { level } }, fill);
}

function renderLag() {
  const body = $('lag-body');
  if (!latest.has(M.lag)) return body.replaceChildren(emptyRow(4, absent(M.lag)));
  const rows = samples(latest, M.lag).sort((a, b) => (a.labels.topic ?? '').localeCompare(b.labels.topic ?? '') || Number(a.labels.partition) - Number(b.labels.partition));
  if (rows.length === 0) return body.replaceChildren(emptyRow(4, 'no partition assigned yet'));
  const ref = reference(scrapes[scrapes.length - 1]);
  const max = Math.max(1, ...rows.map((s) => s.value));
  body.replaceChildren(
    ...rows.map((s) => {
      const key = `${s.labels.topic}/${s.labels.partition}`;
      const before = ref?.lagByPartition.get(key);
      const change = before === undefined ? '' : s.value > before ? `+${formatCount(s.value - before)}` : s.value < before ? `−${formatCount(before - s.value)}` : '±0';
      return h(
        'tr',
        { dataset: { topic: s.labels.topic ?? '', partition: s.labels.partition ?? '', lag: String(s.value) } },
        h('td', { class: 'topic' }, s.labels.topic ?? ''),
        h('td', { class: 'num' }, s.labels.partition ?? ''),
        h('td', { class: 'num lag' }, formatCount(s.value)),
        h('td', { class: 'bar-cell' }, bar(s.value / max, s.value > 0 && before !== undefined && s.value > before ? 'warn' : undefined), h('span', { class: 'change' }, change)),
      );
    }),
  );
}

function renderDeadLetters() {
  const body = $('dead-body');
  if (!latest.has(M.deadLetters)) return body.replaceChildren(emptyRow(3, absent(M.deadLetters)));
  const now = scrapes[scrapes.length - 1];
  const ref = reference(now);
  const rows = [...now.deadByReason].sort((a, b) => b[1] - a[1]);
  if (rows.length === 0) return body.replaceChildren(emptyRow(3, 'none so far'));
  body.replaceChildren(
    ...rows.map(([reason, total]) =>
      h(
        'tr',
        { dataset: { reason } },
        h('td', {}, reason),
        h('td', { class: 'num' }, formatCount(total)),
        h('td', { class: 'num' }, ref === undefined ? '…' : formatRate(rate(ref.deadByReason.get(reason) ?? 0, total, now.t - ref.t))),
      ),
    ),
  );
}

function renderDrift() {
  const body = $('drift-body');
  if (!latest.has(M.drift)) return body.replaceChildren(emptyRow(4, absent(M.drift)));
  const rows = samples(latest, M.drift, ofModel()).sort((a, b) => b.value - a.value || (a.labels.feature ?? '').localeCompare(b.labels.feature ?? ''));
  if (rows.length === 0) return body.replaceChildren(emptyRow(4, 'no data yet: the live version needs a training baseline, and events'));
  const drifted = rows.filter((s) => s.value > PSI_DRIFT).length;
  $('drift-summary').textContent = `${rows.length} features · ${drifted} over ${PSI_DRIFT}`;
  const scale = Math.max(0.3, ...rows.map((s) => s.value));
  body.replaceChildren(
    ...rows.map((s) => {
      const level = s.value > PSI_DRIFT ? 'bad' : s.value > PSI_SHIFT ? 'warn' : 'ok';
      return h(
        'tr',
        { dataset: { feature: s.labels.feature ?? '', psi: String(s.value), level } },
        h('td', {}, s.labels.feature ?? ''),
        h('td', { class: 'muted' }, `${s.labels.model ?? ''} v${s.labels.version ?? ''}`),
        h('td', { class: 'num' }, s.value.toFixed(3)),
        h('td', { class: 'bar-cell' }, bar(s.value / scale, level), h('span', { class: `tag tag-${level}` }, level === 'bad' ? 'drifted' : level === 'warn' ? 'shift' : 'stable')),
      );
    }),
  );
}

const STATE_LEVEL = { running: 'run', succeeded: 'ok', failed: 'bad', cancelled: 'warn', interrupted: 'warn' };

function renderReplays() {
  const body = $('replay-body');
  const jobs = replayJobs(latest);
  if (jobs.length === 0) {
    const any = [...latest.keys()].some((n) => n.startsWith('kscore_replay_'));
    return body.replaceChildren(emptyRow(3, any ? 'no replay job' : 'no replay job (no kscore_replay_ metrics exported)'));
  }
  body.replaceChildren(
    ...jobs.map((j) => {
      const level = STATE_LEVEL[j.state];
      const records = Object.entries(j.records)
        .filter(([, v]) => v > 0)
        .map(([kind, v]) => `${formatCount(v)} ${kind.replace(/_/g, ' ')}${v === 1 ? '' : 's'}`)
        .join(' · ');
      return h(
        'tr',
        { dataset: { job: j.job, state: j.state ?? '', progress: j.progress === undefined ? '' : String(j.progress) } },
        h('td', {}, h('div', { class: 'job' }, j.job), h('span', { class: `tag${level ? ` tag-${level}` : ''}` }, j.state ?? 'state unknown')),
        h(
          'td',
          { class: 'bar-cell' },
          j.progress === undefined ? h('span', { class: 'muted' }, 'progress unknown') : [bar(j.progress, j.state === 'succeeded' ? 'ok' : j.state === 'failed' ? 'bad' : undefined), h('span', { class: 'change' }, formatPercent(j.progress))],
          h('div', { class: 'muted small' }, j.planned === undefined ? '' : `${formatCount(j.done)} of ${formatCount(j.planned)} offsets`),
        ),
        h(
          'td',
          { class: 'num' },
          h('div', {}, j.state === 'running' ? formatRate(j.ratePerSecond) : '–'),
          h('div', { class: 'muted small' }, j.state === 'running' && j.etaSeconds !== undefined ? `${formatSeconds(j.etaSeconds)} left` : records),
        ),
      );
    }),
  );
}

const OUTCOME_LEVEL = { succeeded: 'ok', failed: 'bad', cancelled: 'warn' };

/** An epoch-ms time as `2026-11-27 02:00 UTC`, or a dash. */
function utc(ms) {
  return ms === undefined ? '–' : `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function renderSchedules() {
  const body = $('schedule-body');
  const rows = schedules(latest);
  if (rows.length === 0) return body.replaceChildren(emptyRow(3, 'no schedule'));
  body.replaceChildren(
    ...rows.map((s) => {
      const state = s.running ? 'running' : s.paused ? 'paused' : 'active';
      const level = OUTCOME_LEVEL[s.lastOutcome];
      return h(
        'tr',
        { dataset: { schedule: s.schedule, state, outcome: s.lastOutcome ?? '' } },
        h('td', {}, h('div', { class: 'job' }, s.schedule), h('span', { class: `tag${s.running ? ' tag-run' : s.paused ? ' tag-warn' : ''}` }, state)),
        h('td', {}, s.paused ? h('span', { class: 'muted' }, 'paused') : utc(s.nextRunAt)),
        h('td', {}, s.lastOutcome === undefined ? h('span', { class: 'muted' }, 'none yet') : [h('span', { class: `tag${level ? ` tag-${level}` : ''}` }, s.lastOutcome), h('div', { class: 'muted small' }, utc(s.lastRunAt))]),
      );
    }),
  );
}

$('host').textContent = location.host;
window.addEventListener('resize', () => {
  if (latest !== undefined) renderCharts();
});
$('model-picker').addEventListener('change', (e) => {
  selectedModel = e.target.value;
  // Figures of another model: the history starts again from the next scrape.
  scrapes.length = 0;
  points.length = 0;
  document.body.dataset.model = selectedModel;
});

void poll();
