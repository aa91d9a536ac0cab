import { describe, expect, it } from 'vitest';
import type { PredictionRecord } from '../../src/codec/types.js';
import { HEADERS, type OutputMessage } from '../../src/pipeline/types.js';
import { CompareAccumulator, auc, compareReport, formatReport, labelText, quantile, rmse, scoreOf, type ComparePairs } from '../../src/replay/compare.js';
import { COMPARE_TOPICS, CompareSink } from '../../src/replay/compare-sink.js';

const A = { name: 'm', version: '1', resolvedFrom: 'version 1' };
const B = { name: 'm', version: '2', resolvedFrom: 'alias candidate' };
const params = { task: 'auto' as const, threshold: 0.5, tolerance: 0.01, labelField: 'label' };

function pairs(scoreA: number[], scoreB: number[], truth: (string | null)[], labelA?: (string | null)[], labelB?: (string | null)[]): ComparePairs {
  return {
    scoreA: Float64Array.from(scoreA),
    scoreB: Float64Array.from(scoreB),
    labelA: labelA ?? scoreA.map(() => null),
    labelB: labelB ?? scoreB.map(() => null),
    truth,
  };
}

describe('metrics against hand-computed values', () => {
  it('AUC counts the positive-negative pairs ranked right, ties as half', () => {
    // Pairs (pos, neg): 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes: 3 of 4.
    expect(auc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
    // 0.5 vs 0.5 twice (half each) and 0.9 beats both 0.5s: (1 + 2) / 4.
    expect(auc([0.5, 0.5, 0.5, 0.9], [true, false, false, true])).toBe(0.75);
    expect(auc([0.2, 0.3], [true, true])).toBeNull();
  });

  it('quantiles by nearest rank, and RMSE', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(quantile(sorted, 0.5)).toBe(5);
    expect(quantile(sorted, 0.9)).toBe(9);
    expect(quantile(sorted, 0.99)).toBe(10);
    expect(quantile([], 0.5)).toBeNaN();
    expect(rmse([1, 2, 3], [1, 2, 5])).toBeCloseTo(Math.sqrt(4 / 3), 12);
    expect(rmse([], [])).toBeNull();
  });

  it('reads scores and labels the way predictions carry them', () => {
    const p = (score: number | null, probabilities: number[] | null): PredictionRecord => ({ model: 'm', version: '1', score, label: null, probabilities });
    expect(scoreOf(p(0.3, null))).toBe(0.3);
    expect(scoreOf(p(null, [0.2, 0.8]))).toBe(0.8);
    expect(scoreOf(p(null, null))).toBeNaN();
    expect(labelText(true)).toBe('1');
    expect(labelText('false')).toBe('0');
    expect(labelText(1)).toBe('1');
    expect(labelText(Number.NaN)).toBeNull();
    expect(labelText(undefined)).toBeNull();
    expect(labelText({})).toBeNull();
  });
});

describe('the compare report', () => {
  it('score-only classifiers: agreement by the threshold, |Δ| distribution, AUC and accuracy per version', () => {
    const p = pairs([0.9, 0.2, 0.6, 0.4], [0.8, 0.3, 0.4, 0.45], ['1', '0', '0', '1.0']);
    const r = compareReport(p, { records: 5, deadLetters: 1, onlyA: 0 }, A, B, params);
    expect(r.task).toBe('classification');
    expect(r.records).toBe(5);
    expect(r.compared).toBe(4);
    // Classes A: 1 0 1 0, B: 1 0 0 0.
    expect(r.agreement).toEqual({ rate: 0.75, agree: 3, disagree: 1, rule: 'same side of the threshold 0.5' });
    // |Δ| = 0.1 0.1 0.2 0.05
    expect(r.scoreDiff!.mean).toBeCloseTo(0.1125, 12);
    expect(r.scoreDiff!.p50).toBeCloseTo(0.1, 12);
    expect(r.scoreDiff!.p90).toBeCloseTo(0.2, 12);
    expect(r.scoreDiff!.max).toBeCloseTo(0.2, 12);
    // A: positives 0.9 0.4 vs negatives 0.2 0.6 -> 3 of 4 pairs; B: positives 0.8 0.45 vs 0.3 0.4 -> all.
    expect(r.labels).toEqual({ field: 'label', labelled: 4, a: { auc: 0.75, accuracy: 0.5 }, b: { auc: 1, accuracy: 0.75 } });
  });

  it('classifiers with a label output agree by label', () => {
    const p = pairs([0.9, 0.2], [0.8, 0.7], ['1', null], ['1', '0'], ['1', '1']);
    const r = compareReport(p, { records: 2, deadLetters: 0, onlyA: 0 }, A, B, params);
    expect(r.agreement.rule).toBe('same predicted label');
    expect(r.agreement.rate).toBe(0.5);
    expect(r.labels!.labelled).toBe(1);
  });

  it('regressors: agreement within the tolerance and RMSE against the true values', () => {
    const p = pairs([1, 2, 3], [1.005, 2.5, 3], ['1', '2', '4']);
    const r = compareReport(p, { records: 3, deadLetters: 0, onlyA: 0 }, A, B, params);
    expect(r.task).toBe('regression');
    expect(r.agreement.agree).toBe(2);
    expect(r.labels!.a.rmse).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(r.labels!.b.rmse).toBeCloseTo(Math.sqrt((0.005 ** 2 + 0.25 + 1) / 3), 12);
    expect(formatReport(r)).toContain('RMSE');
  });

  it('adds up chunks from several threads', () => {
    const acc = new CompareAccumulator();
    acc.add(pairs([0.9, 0.2], [0.8, 0.3], ['1', '0']));
    acc.add(pairs([0.6, 0.4], [0.4, 0.45], ['0', '1']));
    acc.addCounts({ records: 2 });
    acc.addCounts({ records: 3, deadLetters: 1 });
    const r = acc.report(A, B, params);
    expect(r.compared).toBe(4);
    expect(r.records).toBe(5);
    expect(r.labels!.a.auc).toBe(0.75);
    expect(formatReport(r)).toMatch(/agreement\s+75\.00%/);
  });
});

describe('the compare sink', () => {
  const msg = (topic: string, offset: number, score: number | null = 0.5): OutputMessage => ({
    topic,
    key: null,
    value: JSON.stringify({ model: 'm', version: topic === COMPARE_TOPICS.b ? '2' : '1', score, label: null, probabilities: null }),
    headers: { [HEADERS.sourcePartition]: '0', [HEADERS.sourceOffset]: String(offset) },
  });

  it('pairs each A prediction with the B prediction of the same record and counts the rest', async () => {
    const sink = new CompareSink((_p, o) => (o === '1' ? '1' : null));
    await sink.send([
      msg(COMPARE_TOPICS.a, 1, 0.9),
      msg(COMPARE_TOPICS.b, 1, 0.7),
      msg(COMPARE_TOPICS.deadLetters, 2),
      msg(COMPARE_TOPICS.a, 3),
      msg(COMPARE_TOPICS.a, 4, 0.1),
      msg(COMPARE_TOPICS.b, 4, 0.2),
    ]);
    const p = sink.pairs.take();
    expect(Array.from(p.scoreA)).toEqual([0.9, 0.1]);
    expect(Array.from(p.scoreB)).toEqual([0.7, 0.2]);
    expect(p.truth).toEqual(['1', null]);
    expect(sink.takeCounts()).toEqual({ records: 4, deadLetters: 1, onlyA: 1 });
    expect(sink.takeCounts()).toEqual({ records: 0, deadLetters: 0, onlyA: 0 });
    expect(sink.pairs.length).toBe(0);
  });
});
