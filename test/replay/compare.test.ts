import { describe, expect, it } from 'vitest';
import type { PredictionRecord } from '../../src/codec/types.js';
import type { SourceMessage } from '../../src/pipeline/types.js';
import { CompareAccumulator, compareReport, formatReport, labelText, scoreOf, type ComparePairs } from '../../src/replay/compare.js';
import { AucHistogram, QUANTILE_RELATIVE_ERROR, QuantileSketch } from '../../src/replay/compare-stats.js';
import { CompareSink } from '../../src/replay/compare-sink.js';

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
    const aucOf = (scores: number[], positive: boolean[]): number | null => {
      const h = new AucHistogram();
      scores.forEach((s, i) => h.add(s, positive[i]!));
      return h.auc();
    };
    // Pairs (pos, neg): 0.35>0.1 yes, 0.35>0.4 no, 0.8>0.1 yes, 0.8>0.4 yes: 3 of 4.
    expect(aucOf([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
    // 0.5 vs 0.5 twice (half each) and 0.9 beats both 0.5s: (1 + 2) / 4.
    expect(aucOf([0.5, 0.5, 0.5, 0.9], [true, false, false, true])).toBe(0.75);
    expect(aucOf([0.2, 0.3], [true, true])).toBeNull();
  });

  it('AUC from histograms is within 1e-5 of the rank-sum AUC on many random scores', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const scores: number[] = [];
    const positive: boolean[] = [];
    const h = new AucHistogram();
    for (let i = 0; i < 20_000; i++) {
      const pos = random() < 0.3;
      const s = Math.min(1, Math.max(0, (pos ? 0.6 : 0.4) + (random() - 0.5) * 0.8));
      scores.push(s);
      positive.push(pos);
      h.add(s, pos);
    }
    // The rank-sum statistic, exactly.
    const order = scores.map((s, i) => [s, positive[i]] as const).sort((x, y) => x[0] - y[0]);
    let rankSum = 0;
    let nPos = 0;
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
      for (let k = i; k <= j; k++) if (order[k]![1]) (rankSum += (i + j) / 2 + 1), nPos++;
      i = j + 1;
    }
    const exact = (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * (order.length - nPos));
    expect(Math.abs(h.auc()! - exact)).toBeLessThan(1e-5);
  });

  it('quantiles by nearest rank, within the sketch relative error, in memory that does not grow with the values', () => {
    const small = new QuantileSketch();
    for (let v = 1; v <= 10; v++) small.add(v);
    for (const [q, exact] of [[0.5, 5], [0.9, 9], [0.99, 10]] as const) expect(Math.abs(small.quantile(q) - exact)).toBeLessThanOrEqual(QUANTILE_RELATIVE_ERROR * exact);
    expect(new QuantileSketch().quantile(0.5)).toBeNaN();
    const big = new QuantileSketch();
    const values = Float64Array.from({ length: 200_000 }, (_, i) => ((i * 7919) % 100_003) / 1e5 + 1e-6);
    for (const v of values) big.add(v);
    const sorted = Float64Array.from(values).sort();
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1]!;
      expect(Math.abs(big.quantile(q) - exact)).toBeLessThanOrEqual(QUANTILE_RELATIVE_ERROR * exact);
    }
    expect(big.max).toBe(sorted[sorted.length - 1]);
    expect((big as unknown as { buckets: Map<number, number> }).buckets.size).toBeLessThan(3000);
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
    expect(Math.abs(r.scoreDiff!.p50 - 0.1)).toBeLessThanOrEqual(QUANTILE_RELATIVE_ERROR * 0.1);
    expect(Math.abs(r.scoreDiff!.p90 - 0.2)).toBeLessThanOrEqual(QUANTILE_RELATIVE_ERROR * 0.2);
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
    const acc = new CompareAccumulator(params);
    acc.add(pairs([0.9, 0.2], [0.8, 0.3], ['1', '0']));
    acc.add(pairs([0.6, 0.4], [0.4, 0.45], ['0', '1']));
    acc.addCounts({ records: 2 });
    acc.addCounts({ records: 3, deadLetters: 1 });
    const r = acc.report(A, B);
    expect(r.compared).toBe(4);
    expect(r.records).toBe(5);
    expect(r.labels!.a.auc).toBe(0.75);
    expect(formatReport(r)).toMatch(/agreement\s+75\.00%/);
  });
});

describe('the compare sink', () => {
  const source = (offset: number, value: object): SourceMessage => ({ key: null, value: Buffer.from(JSON.stringify(value)), offset: String(offset), timestamp: '0' });
  const prediction = (version: string, score: number): PredictionRecord => ({ model: 'm', version, score, label: null, probabilities: null });

  it('pairs each A prediction with the B prediction of the same record, with its label, and counts the rest', async () => {
    const sink = new CompareSink({ labelField: 'label', featuresField: 'f' });
    await sink.send({
      topic: 'features',
      partition: 0,
      outcomes: [
        { kind: 'scored', role: 'primary', source: source(1, {}), prediction: prediction('1', 0.9), shadow: prediction('2', 0.7), event: { label: 1 } },
        { kind: 'dead-letter', source: source(2, {}), reason: 'decode-error', detail: 'x' },
        { kind: 'scored', role: 'primary', source: source(3, {}), prediction: prediction('1', 0.5), event: { label: 0 } },
        // The label read from the features field when the event has none at the top.
        { kind: 'scored', role: 'primary', source: source(4, {}), prediction: prediction('1', 0.1), shadow: prediction('2', 0.2), event: { f: { label: 'yes' } } },
      ],
    });
    const p = sink.pairs.take();
    expect(Array.from(p.scoreA)).toEqual([0.9, 0.1]);
    expect(Array.from(p.scoreB)).toEqual([0.7, 0.2]);
    expect(p.truth).toEqual(['1', 'yes']);
    expect(sink.takeCounts()).toEqual({ records: 4, deadLetters: 1, onlyA: 1 });
    expect(sink.takeCounts()).toEqual({ records: 0, deadLetters: 0, onlyA: 0 });
    expect(sink.pairs.length).toBe(0);
  });

  it('gives no label without a label field', async () => {
    const sink = new CompareSink({ labelField: undefined, featuresField: undefined });
    await sink.send({ topic: 't', partition: 0, outcomes: [{ kind: 'scored', role: 'primary', source: source(1, {}), prediction: prediction('1', 0.9), shadow: prediction('2', 0.7), event: { label: 1 } }] });
    expect(sink.pairs.take().truth).toEqual([null]);
  });
});
