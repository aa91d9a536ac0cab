import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
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
  it("shows each job's progress in the registry given", async () => {
    const register = new Registry();
    const m = new ReplayMetrics(register);
    m.update(status('a', 'running', 250));
    m.update(status('b', 'succeeded', 1000));
    m.update(status('a', 'running', 500));
    const text = await register.metrics();
    expect(text).toContain('kscore_replay_progress_ratio{job="a"} 0.5');
    expect(text).toContain('kscore_replay_progress_ratio{job="b"} 1');
    expect(text).toContain('kscore_replay_offsets_done{job="a"} 500');
    expect(text).toContain('kscore_replay_offsets_planned{job="a"} 1000');
    expect(text).toContain('kscore_replay_rate_per_second{job="a"} 250');
    expect(text).toContain('kscore_replay_eta_seconds{job="a"} -1');
    expect(text).toContain('kscore_replay_records{job="a",kind="dead_letter"} 10');
    expect(text).toContain('kscore_replay_state{job="a",state="running"} 1');
    expect(text).toContain('kscore_replay_state{job="b",state="running"} 0');
    expect(text).toContain('kscore_replay_state{job="b",state="succeeded"} 1');
  });
});
