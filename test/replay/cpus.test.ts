import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cgroupQuota, usableCpus } from '../../src/replay/cpus.js';

const files = (f: Record<string, string>) => (path: string): string | undefined => f[path];

describe('usable CPUs', () => {
  it("reads a container's CPU quota (cgroup v2 and v1) and caps the cores by it", () => {
    expect(cgroupQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }))).toBe(1.5);
    expect(cgroupQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBeUndefined();
    expect(cgroupQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '50000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBe(0.5);
    expect(cgroupQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' }))).toBeUndefined();
    expect(usableCpus(files({ '/sys/fs/cgroup/cpu.max': '50000 100000' }))).toBe(1);
    expect(usableCpus(files({}))).toBe(availableParallelism());
    expect(usableCpus(files({ '/sys/fs/cgroup/cpu.max': '6400000 100000' }))).toBe(availableParallelism());
  });
});
