import { afterEach, describe, expect, it, vi } from 'vitest';
import { MicroBatcher, type BatchSlice, type ScoreFn } from '../../src/scoring/batcher.js';
import type { ScoredBatch } from '../../src/scoring/types.js';

const WIDTH = 2;

/** Rows with first column `values[i]` and second column `-values[i]`. */
function rows(...values: number[]): Float32Array {
  const out = new Float32Array(values.length * WIDTH);
  values.forEach((v, i) => {
    out[i * WIDTH] = v;
    out[i * WIDTH + 1] = -v;
  });
  return out;
}

interface Call {
  rows: number;
  /** The rows the score fn was given, copied at call time (the batcher reuses its buffer). */
  input: number[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * A score fn that records each call and answers score = first column of each row. With
 * `manual`, each call waits until the test resolves or rejects it.
 */
function fakeScorer(manual = false) {
  const calls: Call[] = [];
  let active = 0;
  let maxActive = 0;
  const fn: ScoreFn = (input, n) => {
    active++;
    maxActive = Math.max(maxActive, active);
    const copy = Array.from(input.subarray(0, n * WIDTH));
    const batch: ScoredBatch = {
      rows: n,
      score: Float32Array.from({ length: n }, (_, i) => copy[i * WIDTH]!),
      classes: 0,
    };
    return new Promise<ScoredBatch>((resolve, reject) => {
      const call: Call = {
        rows: n,
        input: copy,
        resolve: () => {
          active--;
          resolve(batch);
        },
        reject: (err) => {
          active--;
          reject(err);
        },
      };
      calls.push(call);
      if (!manual) call.resolve();
    });
  };
  return { fn, calls, maxActive: () => maxActive };
}

/** Observes a promise without awaiting it. */
function observe<T>(p: Promise<T>) {
  const s: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  p.then(
    (value) => Object.assign(s, { settled: true, value }),
    (error: unknown) => Object.assign(s, { settled: true, error }),
  );
  return s;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The scores a submission of `n` rows got back through its slice. */
function scoresOf(slice: BatchSlice, n: number): number[] {
  return Array.from(slice.batch.score!.subarray(slice.start, slice.start + n));
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MicroBatcher', () => {
  it('scores at once when the queued rows reach maxBatchSize', async () => {
    const s = fakeScorer();
    const b = new MicroBatcher({ maxBatchSize: 4, maxWaitMs: 10_000, width: WIDTH }, s.fn);
    b.open();
    const first = b.submit(rows(1, 2), 2, false);
    await nextTurn();
    expect(s.calls).toHaveLength(0); // a submitter is open and the batch is not full

    const second = b.submit(rows(3, 4), 2, false);
    expect(s.calls).toHaveLength(1); // synchronously, no timer
    expect(s.calls[0]!.rows).toBe(4);
    expect(s.calls[0]!.input).toEqual([1, -1, 2, -2, 3, -3, 4, -4]);
    expect(scoresOf(await first, 2)).toEqual([1, 2]);
    expect(scoresOf(await second, 2)).toEqual([3, 4]);
  });

  it('refuses a submission larger than maxBatchSize', () => {
    const b = new MicroBatcher({ maxBatchSize: 2, maxWaitMs: 5, width: WIDTH }, fakeScorer().fn);
    expect(() => b.submit(rows(1, 2, 3), 3, true)).toThrow(RangeError);
  });

  it('scores after maxWaitMs while a submitter is still open', async () => {
    vi.useFakeTimers();
    const s = fakeScorer();
    const b = new MicroBatcher({ maxBatchSize: 100, maxWaitMs: 50, width: WIDTH }, s.fn);
    b.open();
    const slice = b.submit(rows(7), 1, false);
    await vi.advanceTimersByTimeAsync(49);
    expect(s.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.calls).toHaveLength(1);
    expect(scoresOf(await slice, 1)).toEqual([7]);
  });

  it('scores a final submission in the next turn when no submitter is open, not after maxWaitMs', async () => {
    const s = fakeScorer();
    const b = new MicroBatcher({ maxBatchSize: 100, maxWaitMs: 10_000, width: WIDTH }, s.fn);
    b.open();
    const started = Date.now();
    const slice = b.submit(rows(5, 6), 2, true);
    expect(s.calls).toHaveLength(0); // not synchronously: others may join in this turn
    await nextTurn();
    expect(s.calls).toHaveLength(1);
    expect(scoresOf(await slice, 2)).toEqual([5, 6]);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('joins rows of several submitters into one call in submission order, each with its start', async () => {
    const s = fakeScorer();
    const b = new MicroBatcher({ maxBatchSize: 8, maxWaitMs: 10_000, width: WIDTH }, s.fn);
    b.open();
    b.open();
    b.open();
    // The first submitter's array is larger than its rows: only `n` rows may be taken.
    const a = b.submit(rows(1, 2, 99), 2, true);
    const c = b.submit(rows(3), 1, true);
    const d = b.submit(rows(4, 5, 6), 3, true);
    await nextTurn();

    expect(s.calls).toHaveLength(1);
    expect(s.calls[0]!.rows).toBe(6);
    expect(s.calls[0]!.input).toEqual([1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6]);
    const [sa, sc, sd] = await Promise.all([a, c, d]);
    expect([sa.start, sc.start, sd.start]).toEqual([0, 2, 3]);
    expect(sa.batch).toBe(sc.batch);
    expect(sc.batch).toBe(sd.batch);
    expect(scoresOf(sa, 2)).toEqual([1, 2]);
    expect(scoresOf(sc, 1)).toEqual([3]);
    expect(scoresOf(sd, 3)).toEqual([4, 5, 6]);
  });

  it('never splits a submission across batches and never exceeds maxBatchSize', async () => {
    const s = fakeScorer();
    const b = new MicroBatcher({ maxBatchSize: 5, maxWaitMs: 10_000, width: WIDTH }, s.fn);
    const sizes = [3, 2, 4, 1, 5, 3, 3];
    let next = 0;
    const submissions = sizes.map((n) => {
      const values = Array.from({ length: n }, () => ++next);
      b.open();
      return { values, slice: b.submit(rows(...values), n, true) };
    });
    for (const { values, slice } of submissions) {
      const got = await slice;
      // The whole submission is in one batch, contiguous, at its start.
      expect(got.start + values.length).toBeLessThanOrEqual(got.batch.rows);
      expect(scoresOf(got, values.length)).toEqual(values);
    }
    expect(s.calls.every((c) => c.rows <= 5)).toBe(true);
    // Rows reach the scorer in submission order.
    expect(s.calls.flatMap((c) => c.input.filter((_, i) => i % WIDTH === 0))).toEqual(
      Array.from({ length: next }, (_, i) => i + 1),
    );
    // Whole submissions taken greedily: [3,2] [4,1] [5] [3] [3].
    expect(s.calls.map((c) => c.rows)).toEqual([5, 5, 5, 3, 3]);
  });

  it('runs one scoring call at a time: the next batch waits for the slow one', async () => {
    const s = fakeScorer(true);
    const b = new MicroBatcher({ maxBatchSize: 2, maxWaitMs: 10_000, width: WIDTH }, s.fn);
    const first = observe(b.submit(rows(1, 2), 2, false));
    const second = observe(b.submit(rows(3, 4), 2, false));
    await nextTurn();
    expect(s.calls).toHaveLength(1);
    expect(second.settled).toBe(false);

    s.calls[0]!.resolve();
    await vi.waitFor(() => expect(s.calls).toHaveLength(2));
    expect(first.settled).toBe(true);
    expect(second.settled).toBe(false);
    s.calls[1]!.resolve();
    await vi.waitFor(() => expect(second.settled).toBe(true));
    expect(scoresOf(second.value!, 2)).toEqual([3, 4]);
    expect(s.maxActive()).toBe(1);
  });

  it('rejects exactly the submitters of a batch whose scoring failed', async () => {
    const s = fakeScorer(true);
    const b = new MicroBatcher({ maxBatchSize: 2, maxWaitMs: 10_000, width: WIDTH }, s.fn);
    b.open();
    b.open();
    b.open();
    const a = observe(b.submit(rows(1), 1, true));
    const c = observe(b.submit(rows(2), 1, true)); // batch 1: a + c (full)
    const d = observe(b.submit(rows(3), 1, true)); // batch 2
    expect(s.calls).toHaveLength(1);

    const boom = new Error('onnxruntime failed');
    s.calls[0]!.reject(boom);
    await vi.waitFor(() => expect(s.calls).toHaveLength(2));
    expect(a).toMatchObject({ settled: true, error: boom });
    expect(c).toMatchObject({ settled: true, error: boom });
    expect(d.settled).toBe(false);

    s.calls[1]!.resolve();
    await vi.waitFor(() => expect(d.settled).toBe(true));
    expect(d.error).toBeUndefined();
    expect(scoresOf(d.value!, 1)).toEqual([3]);
  });

  it('drained() resolves at once when idle and otherwise only when everything is scored', async () => {
    const s = fakeScorer(true);
    const b = new MicroBatcher({ maxBatchSize: 1, maxWaitMs: 10_000, width: WIDTH }, s.fn);
    await expect(b.drained()).resolves.toBeUndefined();

    void b.submit(rows(1), 1, false);
    void b.submit(rows(2), 1, false);
    const drained = observe(b.drained());
    s.calls[0]!.resolve();
    await vi.waitFor(() => expect(s.calls).toHaveLength(2));
    await nextTurn();
    expect(drained.settled).toBe(false); // the second batch is still being scored
    s.calls[1]!.resolve();
    await vi.waitFor(() => expect(drained.settled).toBe(true));
  });

  it('close() of a submitter that never submitted lets the others flush at once', async () => {
    const s = fakeScorer();
    const b = new MicroBatcher({ maxBatchSize: 100, maxWaitMs: 10_000, width: WIDTH }, s.fn);
    b.open(); // will submit
    b.open(); // will close without submitting (e.g. every event was poison)
    const slice = b.submit(rows(8), 1, true);
    await nextTurn();
    await nextTurn();
    expect(s.calls).toHaveLength(0); // still waiting for the second submitter

    b.close();
    await nextTurn();
    expect(s.calls).toHaveLength(1);
    expect(scoresOf(await slice, 1)).toEqual([8]);
  });
});
