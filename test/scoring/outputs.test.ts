import { describe, expect, it } from 'vitest';
import { inferOutputMapping, positiveColumn, predictionRecord } from '../../src/scoring/outputs.js';
import type { ScoredBatch } from '../../src/scoring/types.js';

describe('predictionRecord', () => {
  it('reads a score-only batch', () => {
    const batch: ScoredBatch = { rows: 3, score: Float32Array.from([0.25, 0.5, 0.75]), classes: 0 };
    expect(predictionRecord(batch, 1, 'fraud', '4')).toEqual({
      model: 'fraud',
      version: '4',
      score: 0.5,
      label: null,
      probabilities: null,
    });
    expect(predictionRecord(batch, 2, 'fraud', '4').score).toBe(0.75);
  });

  it('reads a label + probabilities batch with an int64 label', () => {
    const batch: ScoredBatch = {
      rows: 3,
      label: BigInt64Array.from([0n, 1n, 1n]),
      probabilities: Float32Array.from([0.75, 0.25, 0.5, 0.5, 0.125, 0.875]),
      classes: 2,
    };
    expect(predictionRecord(batch, 0, 'trees', '1')).toEqual({
      model: 'trees',
      version: '1',
      score: null,
      label: '0',
      probabilities: [0.75, 0.25],
    });
    const last = predictionRecord(batch, 2, 'trees', '1');
    expect(last.label).toBe('1');
    expect(last.probabilities).toEqual([0.125, 0.875]);
    // A plain array, not a view over the batch's typed array.
    expect(Array.isArray(last.probabilities)).toBe(true);
  });

  it('reads every output when a batch has score, label and probabilities', () => {
    const batch: ScoredBatch = {
      rows: 2,
      score: Float64Array.from([0.1, 0.9]),
      label: ['cat', 'dog'],
      probabilities: Float64Array.from([0.2, 0.3, 0.5, 0.6, 0.3, 0.1]),
      classes: 3,
    };
    expect(predictionRecord(batch, 1, 'm', '2')).toEqual({
      model: 'm',
      version: '2',
      score: 0.9,
      label: 'dog',
      probabilities: [0.6, 0.3, 0.1],
    });
  });

  it('turns a numeric Int32 label into a string', () => {
    const batch: ScoredBatch = { rows: 2, label: Int32Array.from([7, -3]), classes: 0 };
    expect(predictionRecord(batch, 1, 'm', '1').label).toBe('-3');
  });

  it('gives null for a row beyond the score array', () => {
    const batch: ScoredBatch = { rows: 1, score: Float32Array.from([0.5]), classes: 0 };
    expect(predictionRecord(batch, 3, 'm', '1').score).toBeNull();
  });
});

describe('inferOutputMapping', () => {
  it('maps a logistic model\'s float [N, 1] output to the score', () => {
    expect(inferOutputMapping([{ name: 'score', type: 'float32', shape: ['N', 1] }])).toEqual({ score: 'score' });
  });

  it('maps a classifier: int64 [N] label and float [N, 2] probabilities', () => {
    expect(
      inferOutputMapping([
        { name: 'label', type: 'int64', shape: ['N'] },
        { name: 'probabilities', type: 'float32', shape: ['N', 2] },
      ]),
    ).toEqual({ label: 'label', probabilities: 'probabilities' });
  });

  it('maps a float output named "probabilities" to probabilities even when its width is unknown', () => {
    expect(inferOutputMapping([{ name: 'probabilities', type: 'float32', shape: ['N', 'C'] }])).toEqual({
      probabilities: 'probabilities',
    });
    expect(inferOutputMapping([{ name: 'output_probability', type: 'float64', shape: [-1] }])).toEqual({
      probabilities: 'output_probability',
    });
  });

  it('maps a regressor\'s output to the score, whatever its name', () => {
    expect(inferOutputMapping([{ name: 'prediction', type: 'float32', shape: ['N', 1] }])).toEqual({ score: 'prediction' });
    expect(inferOutputMapping([{ name: 'y', type: 'float64', shape: ['N'] }])).toEqual({ score: 'y' });
  });

  it('maps a float output wider than one column to probabilities', () => {
    expect(inferOutputMapping([{ name: 'out', type: 'float32', shape: ['N', 3] }])).toEqual({ probabilities: 'out' });
  });

  it('keeps the first output of each role and ignores other types', () => {
    expect(
      inferOutputMapping([
        { name: 'mask', type: 'bool', shape: ['N'] },
        { name: 'label', type: 'int64', shape: ['N'] },
        { name: 'label2', type: 'string', shape: ['N'] },
        { name: 's1', type: 'float32', shape: ['N', 1] },
        { name: 's2', type: 'float32', shape: ['N', 1] },
      ]),
    ).toEqual({ label: 'label', score: 's1' });
  });

  it('maps nothing for no outputs', () => {
    expect(inferOutputMapping([])).toEqual({});
  });
});

describe('the score of a probabilities-only classifier', () => {
  const batch: ScoredBatch = { rows: 2, probabilities: Float32Array.from([0.75, 0.25, 0.125, 0.875]), classes: 2, positive: 1 };

  it('is the probability of the positive column', () => {
    expect(predictionRecord(batch, 0, 'm', '1').score).toBe(0.25);
    expect(predictionRecord({ ...batch, positive: 0 }, 1, 'm', '1').score).toBe(0.125);
    expect(predictionRecord({ ...batch, positive: undefined }, 1, 'm', '1').score).toBeNull();
  });

  it('picks the second of two classes by default, the named class when given, none for more classes', () => {
    const probs = { probabilities: 'p' };
    expect(positiveColumn(probs, 2, undefined)).toBe(1);
    expect(positiveColumn(probs, 1, undefined)).toBe(0);
    expect(positiveColumn(probs, 3, undefined)).toBeUndefined();
    expect(positiveColumn({ ...probs, positiveClass: '0' }, 2, undefined)).toBe(0);
    expect(positiveColumn({ ...probs, positiveClass: 'fraud' }, 3, ['ok', 'fraud', 'review'])).toBe(1);
    expect(positiveColumn({ score: 's' }, 0, undefined)).toBeUndefined();
  });

  it('refuses a class the model does not have, or a positive class beside a score output', () => {
    expect(() => positiveColumn({ probabilities: 'p', positiveClass: 'yes' }, 2, ['no', 'maybe'])).toThrow(
      'the positive class "yes" is not a class of the model (its classes: no, maybe)',
    );
    expect(() => positiveColumn({ score: 's', probabilities: 'p', positiveClass: '1' }, 2, undefined)).toThrow('the score is read from output "s"');
    expect(() => positiveColumn({ label: 'l', positiveClass: '1' }, 0, undefined)).toThrow('the model has no probabilities output');
  });
});
