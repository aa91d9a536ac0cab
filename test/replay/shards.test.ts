import { describe, expect, it } from 'vitest';
import { ReplayParamsError } from '../../src/replay/range.js';
import { combineShards, parseShard, shardPath, shardPlan } from '../../src/replay/shards.js';
import type { ReplayPlan, ReplayProgress, ReplayStatus } from '../../src/replay/types.js';

const plan: ReplayPlan = {
  sourceTopic: 'features',
  ranges: [
    { partition: 0, start: 0, end: 250 },
    { partition: 1, start: 100, end: 180 },
  ],
  units: [
    { partition: 0, start: 0, end: 100 },
    { partition: 0, start: 100, end: 200 },
    { partition: 0, start: 200, end: 250 },
    { partition: 1, start: 100, end: 180 },
  ],
  model: { name: 'm', version: '1', resolvedFrom: 'version 1' },
  output: { kind: 'file', path: '/data/out.jsonl', format: 'jsonl' },
  offsets: 330,
  threads: 4,
  warnings: [],
  resolvedAt: '2026-12-01T00:00:00.000Z',
};

const progress = (planned: number, done: number, rate = 0): ReplayProgress => ({
  plannedOffsets: planned,
  doneOffsets: done,
  ratio: done / planned,
  predictions: done,
  deadLetters: 0,
  alreadyWritten: 0,
  ratePerSecond: rate,
  etaSeconds: null,
  updatedAt: '2026-12-01T00:00:00.000Z',
});

describe('sharded replays', () => {
  it('parses I/N and refuses what is not a shard', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    for (const bad of ['5/5', '1', 'a/b', '-1/3', '0/0']) expect(() => parseShard(bad)).toThrow(ReplayParamsError);
  });

  it('gives every unit to exactly one shard, each shard its own file', () => {
    const shards = [0, 1, 2].map((index) => shardPlan(plan, { index, count: 3 }));
    expect(shards.flatMap((s) => s.units).sort((a, b) => a.partition - b.partition || a.start - b.start)).toEqual(plan.units);
    expect(shards.map((s) => s.offsets).reduce((a, b) => a + b)).toBe(plan.offsets);
    expect(shards.map((s) => s.units.length)).toEqual([2, 1, 1]);
    expect(shards[0]!.units).toEqual([plan.units[0], plan.units[3]]);
    expect(shards.map((s) => (s.output.kind === 'file' ? s.output.path : ''))).toEqual([
      '/data/out.shard-0-of-3.jsonl',
      '/data/out.shard-1-of-3.jsonl',
      '/data/out.shard-2-of-3.jsonl',
    ]);
    expect(shards[1]!.threads).toBe(1);
    expect(shardPath('/data/out', { index: 1, count: 2 })).toBe('/data/out.shard-1-of-2');
    expect(shardPath('/data.d/out', { index: 1, count: 2 })).toBe('/data.d/out.shard-1-of-2');
  });

  it("adds up the shards' progress, and is done only when every shard is", () => {
    const parent = { id: 'job', state: 'pending', params: {} as never, plan, progress: progress(330, 0), createdAt: '2026-12-01T00:00:00.000Z', runs: 0, shards: 3 } as ReplayStatus;
    const shard = (state: ReplayStatus['state'], planned: number, done: number, extra: Partial<ReplayStatus> = {}): ReplayStatus => ({ ...parent, shards: undefined, id: `job.s${planned}`, state, progress: progress(planned, done, state === 'running' ? 50 : 0), runs: 1, ...extra });
    const running = combineShards(parent, [shard('succeeded', 150, 150, { finishedAt: '2026-12-01T01:00:00.000Z' }), shard('running', 100, 40), undefined]);
    expect(running).toMatchObject({ state: 'running', runs: 2, progress: { plannedOffsets: 330, doneOffsets: 190, ratePerSecond: 50 } });
    expect(running.progress.etaSeconds).toBeCloseTo(140 / 50);
    expect(running.finishedAt).toBeUndefined();
    const failed = combineShards(parent, [shard('succeeded', 150, 150), shard('failed', 100, 40, { error: 'broker gone' }), shard('running', 80, 1)]);
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('broker gone');
    const done = combineShards(parent, [0, 1, 2].map((i) => shard('succeeded', 110, 110, { finishedAt: `2026-12-01T0${i}:00:00.000Z` })));
    expect(done).toMatchObject({ state: 'succeeded', finishedAt: '2026-12-01T02:00:00.000Z', progress: { doneOffsets: 330, ratio: 1 } });
  });
});
