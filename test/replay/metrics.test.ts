import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { ReplayMetrics } from '../../src/replay/metrics.js';
import type { ReplayStatus } from '../../src/replay/types.js';

const status = (id: string, state: ReplayStatus['state'], done: number): ReplayStatus =>
  ({
    id,
    state,
    params: {} as ReplayStatus['params'],
    progress: {
      plannedOffsets: 1000,
      doneOffsets: done,
      ratio: done / 1000,
      predictions: done - 10,
      deadLetters: 10,
      alreadyWritten: 3,
      ratePerSecond: 250,
      etaSeconds: done === 1000 ? 0 : null,
      updatedAt: '2026-11-27T00:00:00Z',
    },
    createdAt: '2026-11-27T00:00:00Z',
    runs: 1,
  }) as ReplayStatus;

describe('replay metrics', () => {
  it("shows each job's progress in the registry given, labelled replay_job (job is Prometheus' own)", async () => {
    const register = new Registry();
    const m = new ReplayMetrics(register);
    m.update(status('a', 'running', 250));
    m.update(status('b', 'succeeded', 1000));
    m.update(status('a', 'running', 500));
    const text = await register.metrics();
    expect(text).not.toMatch(/[{,]job=/);
    expect(text).toContain('kscore_replay_progress_ratio{replay_job="a"} 0.5');
    expect(text).toContain('kscore_replay_progress_ratio{replay_job="b"} 1');
    expect(text).toContain('kscore_replay_offsets_planned{replay_job="a"} 1000');
    expect(text).toContain('kscore_replay_rate_per_second{replay_job="a"} 250');
    expect(text).toContain('kscore_replay_eta_seconds{replay_job="a"} -1');
    expect(text).toContain('kscore_replay_state{replay_job="a",state="running"} 1');
    expect(text).toContain('kscore_replay_state{replay_job="b",state="running"} 0');
    expect(text).toContain('kscore_replay_state{replay_job="b",state="succeeded"} 1');
  });

  it('counts offsets done and records written as counters, which only grow', async () => {
    const register = new Registry();
    const m = new ReplayMetrics(register);
    m.update(status('a', 'running', 250));
    m.update(status('a', 'running', 500));
    let text = await register.metrics();
    expect(text).toContain('# TYPE kscore_replay_offsets_done_total counter');
    expect(text).toContain('# TYPE kscore_replay_records_total counter');
    expect(text).toContain('kscore_replay_offsets_done_total{replay_job="a"} 500');
    expect(text).toContain('kscore_replay_records_total{replay_job="a",kind="prediction"} 490');
    expect(text).toContain('kscore_replay_records_total{replay_job="a",kind="dead_letter"} 10');
    expect(text).toContain('kscore_replay_records_total{replay_job="a",kind="already_written"} 3');
    // A resume that rewinds to a checkpoint: the counter keeps its count and adds the work done again.
    m.update(status('a', 'running', 400));
    m.update(status('a', 'running', 450));
    text = await register.metrics();
    expect(text).toContain('kscore_replay_offsets_done_total{replay_job="a"} 550');
  });
});

describe('replay metrics of finished jobs', () => {
  it("remove a finished job's series after a while, so they do not grow with the jobs ever run", async () => {
    const register = new Registry();
    const m = new ReplayMetrics(register, 30);
    m.update({ ...status('done', 'succeeded', 1000), finishedAt: '2026-11-27T01:00:00Z' });
    m.update(status('live', 'running', 10));
    expect(await register.metrics()).toContain('replay_job="done"');
    await vi.waitFor(async () => expect(await register.metrics()).not.toContain('replay_job="done"'), { timeout: 2000 });
    expect(await register.metrics()).toContain('kscore_replay_offsets_done_total{replay_job="live"} 10');
  });
});
