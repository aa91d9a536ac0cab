import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUANTILE_RELATIVE_ERROR } from '../../src/replay/compare-stats.js';
import { logistic, regressor, type BuiltModel } from '../../src/modelgen/models.js';
import { syntheticFeatures } from '../../src/producer/load-generator.js';
import type { CompareReport } from '../../src/replay/types.js';
import { runCli } from '../support/child.js';
import { envFor, testConfig } from '../support/harness.js';
import { dropKeys, dropTopics, openJobs, produce, register } from './helpers.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

const SEED = 6;
const M = 4000;
/** Every 200th event lacks feature f3: both versions dead-letter it. */
const isBad = (i: number): boolean => i % 200 === 199;

function rows(features: string[], idx: number[]): Float32Array {
  const out = new Float32Array(idx.length * features.length);
  idx.forEach((i, r) => {
    const ev = syntheticFeatures(i, features, SEED);
    features.forEach((f, j) => (out[r * features.length + j] = ev[f]!));
  });
  return out;
}

function scoresOf(model: BuiltModel, idx: number[]): Float32Array {
  const out = model.reference(rows(model.features, idx), idx.length);
  return (out['score'] ?? out['prediction']) as Float32Array;
}

/** Events with their features and a label field, written as a user's producer would. */
async function produceLabelled(config: ReturnType<typeof testConfig>, labelOf: (i: number) => number): Promise<void> {
  const features = logistic(16, 1).features;
  const messages = Array.from({ length: M }, (_, i) => {
    const event: Record<string, unknown> = { ...syntheticFeatures(i, features, SEED), label: labelOf(i), customer: `c-${i % 13}` };
    if (isBad(i)) delete event['f3'];
    return { key: `k${i}`, value: JSON.stringify(event) };
  });
  await produce(config, config.featuresTopic, messages);
}

/** AUC the slow, obvious way: the share of positive-negative pairs ranked right, ties half. */
function pairwiseAuc(scores: ArrayLike<number>, labels: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

const nearestRank = (sorted: Float64Array, q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;

describe('compare mode against a reference computation', () => {
  it('two classifier versions: agreement, |Δscore| distribution, AUC and accuracy from the label field', async () => {
    const config = testConfig();
    const dir = await mkdtemp(join(tmpdir(), 'kscore-compare-'));
    cleanups.push(() => dropTopics(config), () => dropKeys(config), () => rm(dir, { recursive: true, force: true }));
    const a = logistic(16, 1);
    const b = logistic(16, 2);
    const truth = logistic(16, 99);
    await register(config, a);
    await register(config, b, { alias: 'candidate' });
    const all = Array.from({ length: M }, (_, i) => i);
    const trueScore = scoresOf(truth, all);
    // Labels from a third model, every 9th flipped (noise).
    const labelOf = (i: number): number => Number(trueScore[i]! > 0.5) ^ Number(i % 9 === 0);
    await produceLabelled(config, labelOf);

    const jobs = await openJobs(config, cleanups);
    const id = await jobs.start({ compare: { model: { alias: 'candidate' }, labelField: 'label' }, tuning: { threads: 2, unitSize: 500 } });
    const final = (await jobs.wait(id))!;
    expect(final.state).toBe('succeeded');
    const r = final.report!;

    // The reference: both versions' scores from their plain-JS references, the metrics computed here.
    const good = all.filter((i) => !isBad(i));
    const sa = scoresOf(a, good);
    const sb = scoresOf(b, good);
    const labels = good.map(labelOf);
    let agree = 0;
    const diffs = new Float64Array(good.length);
    let correctA = 0;
    let correctB = 0;
    good.forEach((_, k) => {
      if (sa[k]! >= 0.5 === sb[k]! >= 0.5) agree++;
      diffs[k] = Math.abs(sa[k]! - sb[k]!);
      if (Number(sa[k]! >= 0.5) === labels[k]) correctA++;
      if (Number(sb[k]! >= 0.5) === labels[k]) correctB++;
    });
    diffs.sort();
    const mean = diffs.reduce((s, d) => s + d, 0) / diffs.length;

    expect(r.a).toMatchObject({ version: '1' });
    expect(r.b).toMatchObject({ version: '2', resolvedFrom: 'alias candidate' });
    expect(r.task).toBe('classification');
    expect(r.records).toBe(M);
    expect(r.deadLetters).toBe(M / 200);
    expect(r.compared).toBe(good.length);
    expect(Math.abs(r.agreement.agree - agree)).toBeLessThanOrEqual(1);
    expect(r.agreement.rate!).toBeCloseTo(agree / good.length, 3);
    expect(r.scoreDiff!.mean).toBeCloseTo(mean, 6);
    // Streaming quantiles: each within the sketch's relative error of the exact nearest rank.
    for (const [got, q] of [[r.scoreDiff!.p50, 0.5], [r.scoreDiff!.p90, 0.9], [r.scoreDiff!.p99, 0.99]] as const) {
      expect(Math.abs(got - nearestRank(diffs, q))).toBeLessThanOrEqual(QUANTILE_RELATIVE_ERROR * nearestRank(diffs, q) + 1e-12);
    }
    expect(r.scoreDiff!.max).toBeCloseTo(diffs[diffs.length - 1]!, 6);
    expect(r.labels!.labelled).toBe(good.length);
    expect(r.labels!.a.auc!).toBeCloseTo(pairwiseAuc(sa, labels), 4);
    expect(r.labels!.b.auc!).toBeCloseTo(pairwiseAuc(sb, labels), 4);
    expect(r.labels!.a.accuracy!).toBeCloseTo(correctA / good.length, 3);
    expect(r.labels!.b.accuracy!).toBeCloseTo(correctB / good.length, 3);
    // The labels are informative: the versions are told apart.
    expect(r.labels!.a.auc!).not.toBeCloseTo(r.labels!.b.auc!, 2);

    // The CLI gives the same report (JSON to a file, the human-readable one on stdout).
    const file = join(dir, 'report.json');
    const cli = runCli(['replay', '--compare-alias', 'candidate', '--label-field', 'label', '--report', file], { ...envFor(config), KSCORE_LOG_LEVEL: 'warn' });
    expect(await cli.exited, cli.output()).toBe(0);
    const fromCli = JSON.parse(await readFile(file, 'utf8')) as CompareReport;
    expect(fromCli.compared).toBe(r.compared);
    expect(fromCli.labels!.a.auc).toBeCloseTo(r.labels!.a.auc!, 12);
    expect(fromCli.scoreDiff!.p99).toBeCloseTo(r.scoreDiff!.p99, 12);
    expect(cli.output()).toMatch(/agreement\s+\d+\.\d\d%/);
    expect(cli.output()).toMatch(/A {2}AUC 0\.\d{4} {2}accuracy/);
  });

  it('two regressor versions: RMSE of each against the label field', async () => {
    const config = testConfig();
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    const a = regressor(16, 1);
    const b = regressor(16, 2);
    await register(config, a);
    await register(config, b, { alias: 'candidate' });
    const all = Array.from({ length: M }, (_, i) => i);
    const target = scoresOf(regressor(16, 3), all);
    await produceLabelled(config, (i) => target[i]!);

    const jobs = await openJobs(config, cleanups);
    const id = await jobs.start({ compare: { model: { version: '2' }, labelField: 'label' } });
    const r = (await jobs.wait(id))!.report!;

    const good = all.filter((i) => !isBad(i));
    const rmse = (s: Float32Array): number => Math.sqrt(good.reduce((sum, i, k) => sum + (s[k]! - target[i]!) ** 2, 0) / good.length);
    const sa = scoresOf(a, good);
    const sb = scoresOf(b, good);
    let within = 0;
    good.forEach((_, k) => (within += Math.abs(sa[k]! - sb[k]!) <= 0.01 ? 1 : 0));
    expect(r.task).toBe('regression');
    expect(r.compared).toBe(good.length);
    expect(r.agreement.agree).toBe(within);
    expect(r.labels!.a.rmse!).toBeCloseTo(rmse(sa), 4);
    expect(r.labels!.b.rmse!).toBeCloseTo(rmse(sb), 4);
  });
});
