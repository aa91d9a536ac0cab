import { describe, expect, it } from 'vitest';
import { InOrderWork, fromRuns, toRuns } from '../../src/replay/ordered.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('in-order work', () => {
  it('runs up to `concurrency` items at once and retires them in the order they came', async () => {
    const gates = new Map<number, ReturnType<typeof deferred>>();
    const started: number[] = [];
    const retired: number[] = [];
    const work = new InOrderWork<number>(
      { concurrency: 2, capacity: 3 },
      (n) => {
        started.push(n);
        const d = deferred();
        gates.set(n, d);
        return d.promise;
      },
      (n) => retired.push(n),
    );
    await work.push(1);
    await work.push(2);
    await work.push(3);
    expect(started).toEqual([1, 2]);
    gates.get(2)!.resolve();
    await tick();
    expect(retired).toEqual([]); // 2 is done but 1 is not
    expect(started).toEqual([1, 2, 3]);
    gates.get(1)!.resolve();
    await tick();
    expect(retired).toEqual([1, 2]);
    gates.get(3)!.resolve();
    await work.drained();
    expect(retired).toEqual([1, 2, 3]);
  });

  it('holds back a push while full (backpressure)', async () => {
    const d = deferred();
    const work = new InOrderWork<number>({ concurrency: 1, capacity: 1 }, () => d.promise, () => undefined);
    await work.push(1);
    let second = false;
    const p = work.push(2).then(() => (second = true));
    await tick();
    expect(second).toBe(false);
    d.resolve();
    await p;
    expect(second).toBe(true);
  });

  it('hold() waits for the running items and starts no new one until release()', async () => {
    const gates: ReturnType<typeof deferred>[] = [];
    const started: number[] = [];
    const work = new InOrderWork<number>(
      { concurrency: 1, capacity: 4 },
      (n) => {
        started.push(n);
        const d = deferred();
        gates.push(d);
        return d.promise;
      },
      () => undefined,
    );
    await work.push(1);
    await work.push(2);
    let held = false;
    const h = work.hold().then(() => (held = true));
    await tick();
    expect(held).toBe(false);
    gates[0]!.resolve();
    await h;
    expect(started).toEqual([1]);
    work.release();
    await tick();
    expect(started).toEqual([1, 2]);
  });

  it('after a failure, rejects pushes and waits, and retires nothing past it', async () => {
    const retired: number[] = [];
    const work = new InOrderWork<number>(
      { concurrency: 2, capacity: 2 },
      (n) => (n === 1 ? Promise.reject(new Error('boom')) : Promise.resolve()),
      (n) => retired.push(n),
    );
    // Both queued before the failure is seen.
    await Promise.all([work.push(1), work.push(2)]);
    await expect(work.drained()).rejects.toThrow('boom');
    await expect(work.push(3)).rejects.toThrow('boom');
    expect(retired).toEqual([]);
  });
  it('abandon() drops what has not started and frees pushes waiting for room', async () => {
    const d = deferred();
    const started: number[] = [];
    const retired: number[] = [];
    const work = new InOrderWork<number>({ concurrency: 1, capacity: 2 }, (n) => (started.push(n), d.promise), (n) => retired.push(n));
    await work.push(1);
    await work.push(2);
    const blocked = work.push(3); // the queue is full
    work.abandon(new Error('stopping'));
    await expect(blocked).rejects.toThrow('stopping');
    await expect(work.push(4)).rejects.toThrow('stopping');
    d.resolve();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([1]);
    // 1 was running: its outputs are out, so it is still retired; 2 and 3 were dropped.
    expect(retired).toEqual([1]);
    expect(work.size).toBe(0);
  });
});

describe('offset runs', () => {
  it('writes a set of offsets as [first, count] runs and back', () => {
    const offsets = [7, 3, 4, 5, 10, 11, 4];
    const runs = toRuns(offsets);
    expect(runs).toEqual([
      [3, 3],
      [7, 1],
      [10, 2],
    ]);
    expect(fromRuns(runs)).toEqual([3, 4, 5, 7, 10, 11]);
    expect(toRuns([])).toEqual([]);
  });
});
