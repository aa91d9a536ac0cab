import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { dashboardRoutes } from '../../src/http/dashboard.js';
import { foreignOrigins, openBrowser, scrapes, waitForBodyCount, waitForScrapes, type OpenBrowser } from './dashboard-browser.js';

// The page in a real browser against a scripted /metrics: every panel, the empty states and the
// error banner, with figures chosen so that the expected read-out is known exactly.
// (test/http/dashboard.int.test.ts runs it against the real service.)

interface Script {
  status: number;
  /** The body of the n-th scrape (n from 1). */
  body: (n: number) => string;
}

let script: Script = { status: 200, body: () => '' };
let served = 0;
let app: FastifyInstance;
let origin: string;
let browser: OpenBrowser;

beforeAll(async () => {
  app = Fastify();
  app.get('/metrics', async (_req, reply) => {
    served++;
    return reply.code(script.status).header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(script.body(served));
  });
  await dashboardRoutes()(app);
  origin = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
});
afterEach(async () => {
  await browser?.close();
});

async function open(s: Script): Promise<Page> {
  script = s;
  served = 0;
  browser = await openBrowser();
  await browser.page.goto(`${origin}/dashboard`);
  return browser.page;
}

const text = (page: Page, selector: string): Promise<string> => page.locator(selector).innerText();
const rows = async (page: Page, testid: string): Promise<string[][]> =>
  page
    .getByTestId(testid)
    .locator('tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));

/** A scrape of a busy service; counters grow by the same amount at every scrape. */
function busy(n: number): string {
  const e2e = [
    ['0.005', 20],
    ['0.01', 60],
    ['0.025', 90],
    ['0.05', 98],
    ['+Inf', 100],
  ] as const;
  return [
    '# HELP kscore_consumer_lag Log-end offset minus committed offset',
    '# TYPE kscore_consumer_lag gauge',
    `kscore_consumer_lag{topic="features",partition="0"} ${10 * n}`,
    'kscore_consumer_lag{topic="features",partition="1"} 5',
    'kscore_consumer_lag{topic="features",partition="2"} 0',
    '# TYPE kscore_events_in_total counter',
    `kscore_events_in_total{topic="features"} ${1010 * n}`,
    '# TYPE kscore_predictions_total counter',
    `kscore_predictions_total ${1000 * n}`,
    '# TYPE kscore_dead_letters_total counter',
    `kscore_dead_letters_total{reason="decode-error"} ${7 * n}`,
    `kscore_dead_letters_total{reason="missing-feature"} ${3 * n}`,
    '# TYPE kscore_end_to_end_seconds histogram',
    ...e2e.map(([le, c]) => `kscore_end_to_end_seconds_bucket{le="${le}"} ${c * 10 * n}`),
    `kscore_end_to_end_seconds_sum ${12 * n}`,
    `kscore_end_to_end_seconds_count ${1000 * n}`,
    '# TYPE kscore_scoring_seconds histogram',
    `kscore_scoring_seconds_bucket{le="0.0001"} ${5 * n}`,
    `kscore_scoring_seconds_bucket{le="0.001"} ${10 * n}`,
    `kscore_scoring_seconds_bucket{le="+Inf"} ${10 * n}`,
    `kscore_scoring_seconds_sum ${0.003 * n}`,
    `kscore_scoring_seconds_count ${10 * n}`,
    '# TYPE kscore_batch_size histogram',
    `kscore_batch_size_bucket{le="64"} ${5 * n}`,
    `kscore_batch_size_bucket{le="128"} ${10 * n}`,
    `kscore_batch_size_bucket{le="+Inf"} ${10 * n}`,
    `kscore_batch_size_sum ${1000 * n}`,
    `kscore_batch_size_count ${10 * n}`,
    '# TYPE kscore_model_info gauge',
    'kscore_model_info{model="churn",version="3",alias="production"} 1',
    'kscore_model_info{model="churn",version="4",alias="canary"} 1',
    '# TYPE kscore_canary_share gauge',
    'kscore_canary_share{model="churn",alias="canary"} 0.1',
    '# TYPE kscore_feature_drift_psi gauge',
    'kscore_feature_drift_psi{model="churn",version="3",feature="tenure"} 0.02',
    'kscore_feature_drift_psi{model="churn",version="3",feature="spend"} 0.31',
    'kscore_feature_drift_psi{model="churn",version="3",feature="visits"} 0.15',
    '# TYPE kscore_replay_progress_ratio gauge',
    'kscore_replay_progress_ratio{replay_job="backfill-1"} 0.25',
    'kscore_replay_progress_ratio{replay_job="audit-7"} 1',
    '# TYPE kscore_replay_offsets_done_total counter',
    'kscore_replay_offsets_done_total{replay_job="backfill-1"} 2500',
    'kscore_replay_offsets_done_total{replay_job="audit-7"} 800',
    '# TYPE kscore_replay_offsets_planned gauge',
    'kscore_replay_offsets_planned{replay_job="backfill-1"} 10000',
    'kscore_replay_offsets_planned{replay_job="audit-7"} 800',
    '# TYPE kscore_replay_rate_per_second gauge',
    'kscore_replay_rate_per_second{replay_job="backfill-1"} 500',
    '# TYPE kscore_replay_eta_seconds gauge',
    'kscore_replay_eta_seconds{replay_job="backfill-1"} 15',
    'kscore_replay_eta_seconds{replay_job="audit-7"} -1',
    '# TYPE kscore_replay_records_total counter',
    'kscore_replay_records_total{replay_job="audit-7",kind="prediction"} 790',
    'kscore_replay_records_total{replay_job="audit-7",kind="dead_letter"} 10',
    '# TYPE kscore_replay_state gauge',
    'kscore_replay_state{replay_job="backfill-1",state="running"} 1',
    'kscore_replay_state{replay_job="backfill-1",state="pending"} 0',
    'kscore_replay_state{replay_job="audit-7",state="succeeded"} 1',
    '# TYPE kscore_schedule_paused gauge',
    'kscore_schedule_paused{schedule="nightly"} 0',
    'kscore_schedule_paused{schedule="hourly"} 1',
    '# TYPE kscore_schedule_running gauge',
    'kscore_schedule_running{schedule="nightly"} 0',
    'kscore_schedule_running{schedule="hourly"} 0',
    '# TYPE kscore_schedule_next_run_timestamp_seconds gauge',
    `kscore_schedule_next_run_timestamp_seconds{schedule="nightly"} ${Date.UTC(2026, 10, 28, 2) / 1000}`,
    '# TYPE kscore_schedule_last_run_timestamp_seconds gauge',
    `kscore_schedule_last_run_timestamp_seconds{schedule="nightly"} ${Date.UTC(2026, 10, 27, 2, 4) / 1000}`,
    '# TYPE kscore_schedule_last_run_outcome gauge',
    'kscore_schedule_last_run_outcome{schedule="nightly",outcome="succeeded"} 0',
    'kscore_schedule_last_run_outcome{schedule="nightly",outcome="failed"} 1',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${200 * 1024 * 1024}`,
    '',
  ].join('\n');
}

describe('the dashboard page, in Chromium, against a scripted /metrics', () => {
  it('shows every panel with the figures the scrapes imply, and updates them without a reload', async () => {
    const page = await open({ status: 200, body: busy });
    await waitForScrapes(page, 0, 3);

    // Percentiles over the window: each scrape adds the same distribution, so they are exact.
    expect(await text(page, '#tile-latency .value')).toBe('50 ms');
    expect(await text(page, '#tile-latency .note')).toContain('p50 8.75 ms');
    // Rates: 1000 predictions per scrape, and a scrape starts 2 s after the last one ended (so
    // at most 500/s; less on a busy machine).
    const predRate = Number(await page.getByTestId('tile-predictions').getAttribute('data-value'));
    expect(predRate).toBeGreaterThan(150);
    expect(predRate).toBeLessThanOrEqual(520);
    const inRate = Number(await page.getByTestId('tile-in').getAttribute('data-value'));
    expect(inRate / predRate).toBeCloseTo(1.01, 6);
    expect(await text(page, '#tile-memory .value')).toBe('200 MiB');
    expect(await text(page, '#tile-dead .note')).toMatch(/^\d[\d,]* total$/);

    expect(await page.getByTestId('live-models').locator('.pill').allTextContents()).toEqual(['production churn v3', 'canary churn v4']);
    expect(await rows(page, 'models-table')).toEqual([
      ['production', 'churn', 'v3', '90 %'],
      ['canary', 'churn', 'v4', '10 %'],
    ]);
    const lag = await rows(page, 'lag-table');
    expect(lag.map((r) => r.slice(0, 2))).toEqual([
      ['features', '0'],
      ['features', '1'],
      ['features', '2'],
    ]);
    expect(lag[1]![2]).toBe('5');
    expect(lag[2]![2]).toBe('0');
    expect((await rows(page, 'dead-table')).map((r) => r[0])).toEqual(['decode-error', 'missing-feature']);
    const drift = await rows(page, 'drift-table');
    expect(drift.map((r) => [r[0], r[2], r[3]])).toEqual([
      ['spend', '0.310', 'drifted'],
      ['visits', '0.150', 'shift'],
      ['tenure', '0.020', 'stable'],
    ]);
    expect(await text(page, '#drift-summary')).toBe('3 features · 1 over 0.2');
    expect(await rows(page, 'replay-table')).toEqual([
      ['audit-7succeeded', '100 %800 of 800 offsets', '–790 predictions · 10 dead letters'],
      ['backfill-1running', '25 %2,500 of 10,000 offsets', '500/s15 s left'],
    ]);
    expect(await rows(page, 'schedule-table')).toEqual([
      ['hourlypaused', 'paused', 'none yet'],
      ['nightlyactive', '2026-11-28 02:00 UTC', 'failed2026-11-27 02:04 UTC'],
    ]);
    for (const id of ['chart-throughput', 'chart-lag', 'chart-e2e', 'chart-scoring', 'chart-batch', 'chart-memory']) {
      expect(await page.getByTestId(id).getAttribute('data-state'), id).toBe('data');
      expect(await page.getByTestId(id).locator('path.line').count(), id).toBeGreaterThan(0);
    }

    // Hovering a chart reads out each series at the nearest scrape (right after a redraw, which
    // replaces the chart every 2 s).
    await waitForScrapes(page, await scrapes(page));
    const throughput = page.getByTestId('chart-throughput');
    const plot = throughput.locator('rect.hover');
    const box = await plot.boundingBox();
    await plot.hover({ position: { x: box!.width - 2, y: box!.height / 2 } }); // the newest scrape
    expect(await throughput.locator('text.readout').textContent()).toMatch(/^\d\d:\d\d:\d\d {2}in [\d.k]+\/s {2}predictions [\d.k]+\/s {2}dead letters [\d.]+\/s$/);

    // The lag of partition 0 grows with every scrape: the table follows, the page stays the same page.
    const before = Number(await page.locator('#lag-body tr[data-partition="0"]').getAttribute('data-lag'));
    const seen = await scrapes(page);
    await waitForScrapes(page, seen, 2);
    const after = Number(await page.locator('#lag-body tr[data-partition="0"]').getAttribute('data-lag'));
    expect(after).toBeGreaterThanOrEqual(before + 20);
    expect(await text(page, '#tile-lag .note')).toMatch(/growing/);
    expect(browser.navigations()).toBe(1);
    expect(foreignOrigins(browser.requests, origin)).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  it('offers a model picker when the service scores several models, and shows the picked model only', async () => {
    const twoModels = (n: number): string =>
      [
        '# TYPE kscore_predictions_total counter',
        `kscore_predictions_total{model="fraud"} ${100 * n}`,
        `kscore_predictions_total{model="churn"} ${10 * n}`,
        '# TYPE kscore_dead_letters_total counter',
        `kscore_dead_letters_total{reason="missing-feature",model="fraud"} ${n}`,
        `kscore_dead_letters_total{reason="decode-error",model="churn"} ${2 * n}`,
        '# TYPE kscore_model_info gauge',
        'kscore_model_info{model="fraud",version="2",alias="production"} 1',
        'kscore_model_info{model="churn",version="7",alias="production"} 1',
        '',
      ].join('\n');
    const page = await open({ status: 200, body: twoModels });
    const picked = await waitForScrapes(page, 0, 2);
    const picker = page.getByTestId('model-picker');
    expect(await picker.locator('option').allTextContents()).toEqual(['all models', 'churn', 'fraud']);
    expect((await page.getByTestId('live-models').locator('.pill').allTextContents()).sort()).toEqual(['production churn v7', 'production fraud v2']);
    // Totals of one scrape: n * 110 predictions and n * 3 dead letters over both models, n * 100 and n for fraud.
    const ratio = async (): Promise<number> => Number(await page.getByTestId('tile-predictions').getAttribute('data-total')) / Number(await page.getByTestId('tile-dead').getAttribute('data-total'));
    expect(await ratio()).toBeCloseTo(110 / 3, 9);

    await picker.selectOption('fraud');
    await waitForScrapes(page, picked, 2);
    expect(await ratio()).toBe(100);
    expect(await page.getByTestId('live-models').locator('.pill').allTextContents()).toEqual(['production fraud v2']);
    expect((await rows(page, 'dead-table')).map((r) => r[0])).toEqual(['missing-feature']);
  });

  it('says which metrics the service does not export, and shows "no data yet" before there is any', async () => {
    // A service without kscore metrics at all.
    const page = await open({ status: 200, body: () => '# TYPE other_metric gauge\nother_metric 1\n' });
    await waitForScrapes(page, 0, 2);
    expect(await text(page, '#tile-lag .note')).toBe('kscore_consumer_lag not exported');
    expect(await text(page, '#tile-predictions .value')).toBe('–');
    expect(await page.getByTestId('no-live-model').innerText()).toBe('no live model');
    expect(await page.getByTestId('chart-e2e').innerText()).toBe('kscore_end_to_end_seconds not exported');
    expect((await rows(page, 'lag-table'))[0]).toEqual(['kscore_consumer_lag not exported']);
    expect((await rows(page, 'replay-table'))[0]![0]).toMatch(/no replay job/);
    expect((await rows(page, 'schedule-table'))[0]![0]).toBe('no schedule');

    // A service that just started: the families are declared but nothing happened yet.
    await browser.close();
    const fresh = await open({
      status: 200,
      body: () =>
        [
          '# TYPE kscore_consumer_lag gauge',
          '# TYPE kscore_predictions_total counter',
          'kscore_predictions_total 0',
          '# TYPE kscore_dead_letters_total counter',
          '# TYPE kscore_end_to_end_seconds histogram',
          'kscore_end_to_end_seconds_bucket{le="0.01"} 0',
          'kscore_end_to_end_seconds_bucket{le="+Inf"} 0',
          'kscore_end_to_end_seconds_sum 0',
          'kscore_end_to_end_seconds_count 0',
          '# TYPE kscore_model_info gauge',
          '# TYPE kscore_feature_drift_psi gauge',
          '',
        ].join('\n'),
    });
    await waitForScrapes(fresh, 0, 2);
    expect(await text(fresh, '#tile-predictions .value')).toBe('0/s');
    expect(await text(fresh, '#tile-predictions .note')).toBe('0 total');
    expect(await text(fresh, '#tile-latency .note')).toBe('no predictions in the last 10 s');
    expect(await fresh.getByTestId('chart-e2e').innerText()).toBe('no predictions yet');
    expect(await fresh.getByTestId('chart-e2e').getAttribute('data-state')).toBe('empty');
    expect((await rows(fresh, 'lag-table'))[0]).toEqual(['no partition assigned yet']);
    expect((await rows(fresh, 'dead-table'))[0]).toEqual(['none so far']);
    expect((await rows(fresh, 'models-table'))[0]![0]).toMatch(/no version is live/);
    expect((await rows(fresh, 'drift-table'))[0]![0]).toMatch(/^no data yet/);
    expect(browser.errors).toEqual([]);
  });

  it('shows an error banner while /metrics cannot be read, keeps the last figures, and clears it when it can', async () => {
    const page = await open({ status: 200, body: busy });
    await waitForScrapes(page, 0, 2);
    const banner = page.getByTestId('error-banner');
    expect(await banner.isHidden()).toBe(true);
    expect(await page.getByTestId('status').getAttribute('data-state')).toBe('live');

    script = { status: 503, body: () => 'down for maintenance' };
    await banner.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await banner.innerText()).toMatch(/^Cannot read \/metrics \(HTTP 503 Service Unavailable\)\. Showing the figures of \d\d:\d\d:\d\d\. Retrying every 2 s\.$/);
    expect(await page.getByTestId('status').getAttribute('data-state')).toBe('error');
    expect(await page.locator('#models-body tr').count()).toBe(2); // the last figures stay

    // The network itself failing (connection refused, as when the service is down) reads the same.
    await page.route('**/metrics', (route) => route.abort('connectionrefused'));
    await waitForBodyCount(page, 'failures', 2, 10_000);
    expect(await banner.isVisible()).toBe(true);
    await page.unroute('**/metrics');

    script = { status: 200, body: busy };
    await banner.waitFor({ state: 'hidden', timeout: 10_000 });
    expect(await page.getByTestId('status').getAttribute('data-state')).toBe('live');
    expect(browser.navigations()).toBe(1);
    // Failed fetches are logged by the browser as console errors; nothing else may be.
    expect(browser.errors.filter((e) => !/Failed to load resource|Failed to fetch|ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
  });
});
