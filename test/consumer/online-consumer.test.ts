import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { OnlineConsumer, backoffMs, type BatchWork } from '../../src/consumer/online-consumer.js';
import { TransientError } from '../../src/errors.js';
import type { FetchedBatch, GroupConsumer, GroupHandlers, TopicPartitionOffset } from '../../src/kafka/index.js';

const log = pino({ level: 'silent' });

/** A group consumer port driven by the test: it hands out batches and records commits. */
class FakeGroup implements GroupConsumer {
  handlers: GroupHandlers | undefined;
  readonly commits: TopicPartitionOffset[][] = [];
  stopped = false;

  async run(handlers: GroupHandlers): Promise<void> {
    this.handlers = handlers;
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.commits.push([...offsets]);
  }

  async stop(beforeLeave?: () => Promise<void>): Promise<void> {
    await beforeLeave?.();
    this.stopped = true;
  }

  health(): { ok: boolean } {
    return { ok: true };
  }

  /** Hands out a batch of `n` records of `partition` starting at `from`; resolves when the consumer would fetch again. */
  deliver(partition: number, from: number, n: number): Promise<void> {
    return this.handlers!.batch(batch(partition, from, n));
  }

  committed(partition: number): string | undefined {
    let last: string | undefined;
    for (const c of this.commits) for (const o of c) if (o.partition === partition) last = o.offset;
    return last;
  }
}

function batch(partition: number, from: number, n: number): FetchedBatch {
  const messages = Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from('x'), offset: String(from + i), timestamp: '0' }));
  return { topic: 't', partition, messages, nextOffset: String(from + n) };
}

/** Work whose completion the test controls, batch by batch; records the order outputs were issued. */
function controlledWork() {
  const pending = new Map<string, { resolve: () => void; reject: (e: unknown) => void }>();
  const issued: string[] = [];
  const started: string[] = [];
  const work: BatchWork = async (b, turn) => {
    const id = `${b.partition}@${b.messages[0]!.offset}`;
    started.push(id);
    const acked = new Promise<void>((resolve, reject) => pending.set(id, { resolve, reject }));
    await turn.wait;
    issued.push(id);
    turn.issued();
    await acked;
  };
  return { work, pending, issued, started, ack: (id: string) => pending.get(id)!.resolve() };
}

function consumer(group: FakeGroup, window = 2, onFatal: (e: Error) => void = () => undefined): OnlineConsumer {
  return new OnlineConsumer(group, { commitIntervalMs: 1, window, revokeWaitMs: 1000 }, log, onFatal);
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Lets every callback already due run (promise chains, immediates): what can happen has happened. */
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await tick();
}

describe('OnlineConsumer', () => {
  it('keeps up to `window` batches of a partition in flight, then holds the fetch until one is done', async () => {
    const group = new FakeGroup();
    const w = controlledWork();
    await consumer(group, 2).start(w.work);
    await group.deliver(0, 0, 10);
    await group.deliver(0, 10, 10);
    let third = false;
    const held = group.deliver(0, 20, 10).then(() => (third = true));
    await tick();
    expect(third).toBe(false);
    expect(w.started).toEqual(['0@0', '0@10']);
    // Another partition has its own window.
    await group.deliver(1, 0, 5);
    w.ack('0@0');
    await held;
    expect(third).toBe(true);
  });

  it('commits a partition only past batches whose every output is acknowledged, in order', async () => {
    const group = new FakeGroup();
    const w = controlledWork();
    await consumer(group, 3).start(w.work);
    await group.deliver(0, 0, 10);
    await group.deliver(0, 10, 10);
    await tick();
    w.ack('0@10');
    await ticks(5);
    expect(group.committed(0)).toBeUndefined();
    w.ack('0@0');
    await vi.waitFor(() => expect(group.committed(0)).toBe('20'));
  });

  it('hands outputs to the producer in offset order even when a later batch is scored first', async () => {
    const group = new FakeGroup();
    const issued: string[] = [];
    let releaseFirst!: () => void;
    const firstScored = new Promise<void>((r) => (releaseFirst = r));
    const work: BatchWork = async (b, turn) => {
      if (b.messages[0]!.offset === '0') await firstScored; // the first batch is slow to score
      await turn.wait;
      issued.push(b.messages[0]!.offset);
      turn.issued();
    };
    await consumer(group, 4).start(work);
    await group.deliver(0, 0, 10);
    await group.deliver(0, 10, 10);
    await tick();
    expect(issued).toEqual([]);
    releaseFirst();
    await vi.waitFor(() => expect(issued).toEqual(['0', '10']));
  });

  it('moves past a batch of control records only (no messages) in order', async () => {
    const group = new FakeGroup();
    const w = controlledWork();
    await consumer(group, 4).start(w.work);
    await group.deliver(0, 0, 5);
    await group.handlers!.batch({ topic: 't', partition: 0, messages: [], nextOffset: '7' });
    await ticks(5);
    expect(group.committed(0)).toBeUndefined();
    w.ack('0@0');
    await vi.waitFor(() => expect(group.committed(0)).toBe('7'));
  });

  it('retries a batch whose error a retry can fix, and fails on one it cannot', async () => {
    const group = new FakeGroup();
    let calls = 0;
    const fatal: Error[] = [];
    const work: BatchWork = async (_b, turn) => {
      calls++;
      if (calls === 1) throw new TransientError('SCHEMA_REGISTRY_UNAVAILABLE', 'registry away');
      if (calls === 3) throw new Error('a bug');
      await turn.wait;
      turn.issued();
    };
    const c = consumer(group, 2, (e) => fatal.push(e));
    await c.start(work);
    await group.deliver(0, 0, 1);
    await vi.waitFor(() => expect(group.committed(0)).toBe('1'));
    expect(calls).toBe(2);
    await group.deliver(0, 1, 1);
    await vi.waitFor(() => expect(fatal).toHaveLength(1));
    expect(fatal[0]!.message).toBe('a bug');
    expect(c.health()).toEqual({ ok: false, detail: 'failed: a bug' });
    // After a failure nothing more is taken.
    await group.deliver(0, 2, 1);
    expect(calls).toBe(3);
  });

  it('on revoke, commits what is done and forgets the partition (a late ack moves nothing)', async () => {
    const group = new FakeGroup();
    const w = controlledWork();
    const c = new OnlineConsumer(group, { commitIntervalMs: 60_000, window: 4, revokeWaitMs: 20 }, log, () => undefined);
    await c.start(w.work);
    await group.deliver(0, 0, 10);
    await group.deliver(0, 10, 10);
    await tick();
    w.ack('0@0');
    await tick();
    await group.handlers!.revoked([{ topic: 't', partition: 0 }]);
    expect(group.committed(0)).toBe('10');
    const before = group.commits.length;
    w.ack('0@10');
    await c.stop();
    expect(group.commits.slice(before).flat().filter((o) => o.partition === 0)).toEqual([]);
  });

  it('on stop, lets the batches in flight finish and commits them before leaving', async () => {
    const group = new FakeGroup();
    const w = controlledWork();
    const c = consumer(group, 4);
    await c.start(w.work);
    await group.deliver(2, 100, 10);
    const stopping = c.stop();
    await tick();
    expect(group.stopped).toBe(false);
    w.ack('2@100');
    await stopping;
    expect(group.stopped).toBe(true);
    expect(group.committed(2)).toBe('110');
  });
});

describe('backoffMs', () => {
  it('doubles from 200 ms, is capped at 10 s, with ±50 % jitter', () => {
    expect(backoffMs(1, () => 0.5)).toBe(200);
    expect(backoffMs(3, () => 0.5)).toBe(800);
    expect(backoffMs(30, () => 0.5)).toBe(10_000);
    expect(backoffMs(1, () => 0)).toBe(100);
    expect(backoffMs(1, () => 0.999)).toBeCloseTo(299.8);
  });
});
