import { describe, expect, it } from 'vitest';
import { OffsetCommitter, type CommitFn } from '../../src/consumer/committer.js';

function recorder(fail = false) {
  const calls: { topic: string; partition: number; offset: string }[][] = [];
  let release: (() => void) | undefined;
  let hold = false;
  const commit: CommitFn = async (offsets) => {
    calls.push([...offsets]);
    if (hold) {
      hold = false;
      await new Promise<void>((r) => (release = r));
    }
    if (fail) throw new Error('rebalance in progress');
  };
  return { calls, commit, holdNext: () => (hold = true), release: () => release?.() };
}

describe('OffsetCommitter', () => {
  it('commits the latest acknowledged offset of each partition, at most once per interval', async () => {
    let now = 10_000;
    const c = new OffsetCommitter(1000, () => undefined, () => now);
    const r = recorder();
    c.ack('t', 0, '10');
    c.ack('t', 0, '20');
    c.ack('t', 1, '5');
    c.maybeCommit(r.commit);
    await Promise.resolve();
    expect(r.calls).toEqual([[{ topic: 't', partition: 0, offset: '20' }, { topic: 't', partition: 1, offset: '5' }]]);
    c.ack('t', 0, '30');
    now += 500;
    c.maybeCommit(r.commit);
    expect(r.calls).toHaveLength(1);
    now += 500;
    c.maybeCommit(r.commit);
    await Promise.resolve();
    expect(r.calls[1]).toEqual([{ topic: 't', partition: 0, offset: '30' }]);
  });

  it('does nothing with nothing acknowledged', () => {
    const c = new OffsetCommitter(0, () => undefined);
    const r = recorder();
    c.maybeCommit(r.commit);
    expect(r.calls).toHaveLength(0);
  });

  it('runs one commit at a time; flush waits for the one in flight, then commits the rest', async () => {
    const c = new OffsetCommitter(0, () => undefined);
    const r = recorder();
    r.holdNext();
    c.ack('t', 0, '1');
    c.maybeCommit(r.commit);
    c.ack('t', 0, '2');
    c.maybeCommit(r.commit); // one is in flight: skipped
    expect(r.calls).toHaveLength(1);
    const flushed = c.flush(r.commit);
    r.release();
    await flushed;
    expect(r.calls.map((x) => x[0]!.offset)).toEqual(['1', '2']);
    expect(c.pendingCount).toBe(0);
  });

  it('keeps offsets of a failed commit for the next one, unless newer ones arrived', async () => {
    const errors: unknown[] = [];
    const c = new OffsetCommitter(0, (e) => errors.push(e));
    const failing = recorder(true);
    c.ack('t', 0, '7');
    c.ack('t', 1, '3');
    await expect(c.flush(failing.commit)).rejects.toThrow('rebalance');
    c.ack('t', 1, '9');
    const ok = recorder();
    await c.flush(ok.commit);
    expect(ok.calls[0]).toEqual(expect.arrayContaining([{ topic: 't', partition: 0, offset: '7' }, { topic: 't', partition: 1, offset: '9' }]));
  });

  it('reports background failures to the error callback', async () => {
    const errors: unknown[] = [];
    const c = new OffsetCommitter(0, (e) => errors.push(e));
    c.ack('t', 0, '1');
    c.maybeCommit(recorder(true).commit);
    await new Promise((r) => setTimeout(r, 0));
    expect(errors).toHaveLength(1);
  });
});
