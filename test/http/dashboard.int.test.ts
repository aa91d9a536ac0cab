import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { Config } from '../../src/config/index.js';
import { histogram, samples, sumOf, type Families } from '../../src/http/dashboard/metrics-parse.js';
import { logistic, type BuiltModel } from '../../src/modelgen/models.js';
import { RedisModelStore, registerModel, type FeatureBaseline } from '../../src/registry/index.js';
import { ScoringService } from '../../src/service/service.js';
import { eventually } from '../support/child.js';
import { deleteTopics, produceEvents, redisFor, testConfig, testLog } from '../support/harness.js';
import { foreignOrigins, openBrowser, scrapes, waitForScrapes, type OpenBrowser } from './dashboard-browser.js';
import { serviceMetrics, settledLag } from './dashboard-service.js';
import { cleanupAfterEach } from '../support/cleanup.js';

// The dashboard of a real service (Kafka, Redis and the schema registry from the test setup), in
// headless Chromium: the figures it shows are the service's, it follows the service without a
// reload, and it asks nothing of any other host. Set UPDATE_SCREENSHOT=1 to write docs/dashboard.png.

const cleanups = cleanupAfterEach();

const BAD_EVERY = 40;
const RATE = 400;

/** Training baselines: quartile bins of the synthetic features (uniform in [-1, 1)), f0 skewed so that it drifts. */
function baselineFor(model: BuiltModel): Record<string, FeatureBaseline> {
  return Object.fromEntries(
    model.features.map((f, i) => [f, { edges: [-0.5, 0, 0.5], shares: i === 0 ? [0.55, 0.25, 0.1, 0.1] : i === 1 ? [0.32, 0.26, 0.22, 0.2] : [0.25, 0.25, 0.25, 0.25] }]),
  );
}

async function registerVersion(config: Config, model: BuiltModel, alias: string): Promise<string> {
  const redis = redisFor(config);
  try {
    const store = new RedisModelStore(redis, config.redisKeyPrefix);
    const meta = await registerModel(store, config.modelName, { bytes: Buffer.from(model.bytes), features: model.features, baseline: baselineFor(model) }, { alias, actor: 'test' });
    return meta.version;
  } finally {
    await redis.quit();
  }
}

async function setCanaryShare(config: Config, share: number): Promise<void> {
  const redis = redisFor(config);
  await new RedisModelStore(redis, config.redisKeyPrefix).setSplit(config.modelName, { alias: 'canary', share }, 'test');
  await redis.quit();
}

async function startServiceWithDashboard(config: Config): Promise<string> {
  const service = await ScoringService.create(config, testLog);
  cleanups.push(async () => {
    await service.close();
    await deleteTopics(config);
  });
  // The service serves the dashboard itself.
  expect(service.httpServer.hasRoute({ method: 'GET', url: '/dashboard' })).toBe(true);
  return (await service.start()).httpUrl;
}

const liveVersions = (f: Families): Record<string, string> =>
  Object.fromEntries(samples(f, 'kscore_model_info').filter((s) => s.value === 1).map((s) => [s.labels['alias'], s.labels['version']]));

const attr = async (page: Page, testid: string, name: string): Promise<string | null> => page.getByTestId(testid).getAttribute(name);
const tableRows = async (page: Page, testid: string): Promise<string[][]> =>
  page
    .getByTestId(testid)
    .locator('tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));

const expectedBad = (sent: number): number => Math.floor(sent / BAD_EVERY);

describe('the dashboard of a real service, in headless Chromium', () => {
  it('shows the figures of the service, follows it without a reload, and loads nothing from elsewhere', async () => {
    const config = testConfig({ maxBatchSize: 64, lagIntervalMs: 1000, modelRefreshMs: 1000 });
    const model = logistic(8, 1);
    expect(await registerVersion(config, model, 'production')).toBe('1');
    const url = await startServiceWithDashboard(config);
    const origin = new URL(url).origin;
    await eventually(async () => (liveVersions(await serviceMetrics(url))['production'] === '1' ? true : undefined), 30_000, 'version 1 live');

    const browser: OpenBrowser = await openBrowser();
    cleanups.push(() => browser.close());
    const { page } = browser;
    const res = await page.goto(`${url}/dashboard`);
    expect(res?.status()).toBe(200);
    await waitForScrapes(page, 0, 1);

    // The live version, as the service reports it.
    expect(await page.getByTestId('live-models').locator('[data-alias="production"]').getAttribute('data-version')).toBe('1');
    expect(await tableRows(page, 'models-table')).toEqual([['production', config.modelName, 'v1', '100 %']]);

    // Events flow: the page sees throughput while they do.
    const features = model.features;
    const firstRun = produceEvents(config, { rate: RATE, durationMs: 8000, format: 'json', features, badEvery: BAD_EVERY, seed: 1 });
    await expect.poll(async () => Number(await attr(page, 'tile-predictions', 'data-value')), { timeout: 20_000, interval: 250 }).toBeGreaterThan(0);
    await expect.poll(async () => Number(await attr(page, 'tile-in', 'data-value')), { timeout: 5_000, interval: 250 }).toBeGreaterThan(0);
    const sent1 = await firstRun;
    expect(sent1).toBeGreaterThan(1000);

    // Once all is scored, the page's totals are the service's, which are the events sent.
    const scored1 = sent1 - expectedBad(sent1);
    await eventually(async () => (sumOf(await serviceMetrics(url), 'kscore_predictions_total') === scored1 ? true : undefined), 30_000, 'all scored');
    await expect.poll(async () => Number(await attr(page, 'tile-predictions', 'data-total')), { timeout: 10_000, interval: 250 }).toBe(scored1);
    expect(Number(await attr(page, 'tile-dead', 'data-total'))).toBe(expectedBad(sent1));
    expect(Number(await attr(page, 'tile-in', 'data-total'))).toBe(sent1);
    expect(await page.getByTestId('chart-throughput').getAttribute('data-state')).toBe('data');
    expect(await page.getByTestId('chart-scoring').getAttribute('data-state')).toBe('data');
    expect(await page.getByTestId('chart-batch').getAttribute('data-state')).toBe('data');
    const reasons = (await tableRows(page, 'dead-table')).map((r) => [r[0], Number(r[1]!.replace(/,/g, ''))]);
    const serviceReasons = samples(await serviceMetrics(url), 'kscore_dead_letters_total').map((s) => [s.labels['reason'], s.value]);
    expect(reasons.sort()).toEqual(serviceReasons.sort());
    expect(reasons.filter(([, n]) => (n as number) > 0).length).toBe(4); // the four kinds of bad JSON event

    // Lag: one row per partition of the features topic, with the service's figures once they settle.
    const lag = await settledLag(url, config.featuresTopic, config.topicPartitions);
    await expect
      .poll(async () => (await tableRows(page, 'lag-table')).map((r) => r.slice(0, 3)), { timeout: 10_000, interval: 250 })
      .toEqual(lag.map(([p, v]) => [config.featuresTopic, p, v.toLocaleString('en-US')]));
    expect(Number(await attr(page, 'tile-lag', 'data-value'))).toBe(lag.reduce((a, [, v]) => a + v, 0));

    // Latency and drift, as the service exports them: f0's baseline is off, so f0 drifts.
    const now = await serviceMetrics(url);
    expect(histogram(now, 'kscore_scoring_seconds')!.count).toBeGreaterThan(0);
    expect(histogram(now, 'kscore_end_to_end_seconds')!.count).toBe(scored1);
    expect(await page.getByTestId('chart-e2e').getAttribute('data-state')).toBe('data');
    expect(await page.getByTestId('chart-scoring').getAttribute('data-state')).toBe('data');
    const drift = samples(now, 'kscore_feature_drift_psi');
    expect(drift.map((s) => s.labels['feature']).sort()).toEqual([...features].sort());
    await expect
      .poll(async () => (await page.locator('#drift-body tr[data-feature]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-feature')))).sort(), { timeout: 10_000, interval: 250 })
      .toEqual([...features].sort());
    const f0 = page.locator('#drift-body tr[data-feature="f0"]');
    expect(await f0.getAttribute('data-level')).toBe('bad');
    expect(Number(await f0.getAttribute('data-psi'))).toBeCloseTo(drift.find((s) => s.labels['feature'] === 'f0')!.value, 2);

    // The service changes: a new production version, a canary, more events. The page follows.
    const navigationsBefore = browser.navigations();
    expect(await registerVersion(config, logistic(8, 2), 'production')).toBe('2');
    expect(await registerVersion(config, logistic(8, 3), 'canary')).toBe('3');
    await setCanaryShare(config, 0.1);
    await eventually(async () => {
      const live = liveVersions(await serviceMetrics(url));
      return live['production'] === '2' && live['canary'] === '3' ? true : undefined;
    }, 30_000, 'versions 2 and 3 live');
    await expect
      .poll(() => tableRows(page, 'models-table'), { timeout: 10_000, interval: 250 })
      .toEqual([
        ['production', config.modelName, 'v2', '90 %'],
        ['canary', config.modelName, 'v3', '10 %'],
      ]);
    expect(await page.getByTestId('live-models').locator('[data-alias="production"]').getAttribute('data-version')).toBe('2');

    // A second run; the screenshot is taken while it flows (a longer one for docs/dashboard.png).
    const updateDocs = process.env['UPDATE_SCREENSHOT'] === '1';
    const durationMs = updateDocs ? 60_000 : 5000;
    const secondRun = produceEvents(config, { rate: RATE, durationMs, format: 'json', features, badEvery: BAD_EVERY, seed: 2 });
    // The screenshot waits until the page shows the second run flowing (a second of its events scored; 50 for the docs).
    await expect
      .poll(async () => Number(await attr(page, 'tile-predictions', 'data-total')), { timeout: durationMs + 30_000, interval: 250 })
      .toBeGreaterThan(scored1 + RATE * (updateDocs ? 50 : 1));
    const screenshotDir = updateDocs ? fileURLToPath(new URL('../../docs/', import.meta.url)) : await mkdtemp(join(tmpdir(), 'kscore-dashboard-'));
    if (!updateDocs) cleanups.push(() => rm(screenshotDir, { recursive: true, force: true }));
    const file = join(screenshotDir, 'dashboard.png');
    await page.screenshot({ path: file, fullPage: true });
    expect((await stat(file)).size).toBeGreaterThan(50_000);
    const sent2 = await secondRun;
    const scored = scored1 + sent2 - expectedBad(sent2);
    expect(scored).toBeGreaterThan(scored1);
    await eventually(async () => (sumOf(await serviceMetrics(url), 'kscore_predictions_total') === scored ? true : undefined), 30_000, 'second run scored');
    await expect.poll(async () => Number(await attr(page, 'tile-predictions', 'data-total')), { timeout: 10_000, interval: 250 }).toBe(scored);
    expect(browser.navigations()).toBe(navigationsBefore);
    expect(browser.navigations()).toBe(1);
    expect(await scrapes(page)).toBeGreaterThan(5);
    expect(await page.getByTestId('error-banner').isHidden()).toBe(true);
    expect(Number(await attr(page, 'tile-memory', 'data-value'))).toBeGreaterThan(10 * 1024 * 1024);

    // Everything the page loaded came from the service.
    expect(browser.requests.length).toBeGreaterThan(5);
    expect(browser.requests.filter((u) => u.endsWith('/metrics')).length).toBeGreaterThan(5);
    expect(foreignOrigins(browser.requests, origin)).toEqual([]);
    expect(browser.errors).toEqual([]);
  });
});
