import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  counterIncrease,
  histogram,
  histogramIncrease,
  histogramQuantile,
  parseMetrics,
  parseValue,
  rate,
  replayJobs,
  schedules,
  samples,
  sumOf,
} from '../../src/http/dashboard/metrics-parse.js';
import { ReplayMetrics } from '../../src/replay/metrics.js';
import { ScheduleMetrics } from '../../src/schedule/metrics.js';
import type { ReplayStatus } from '../../src/replay/types.js';
import { formatBytes, formatCount, formatNumber, formatPercent, formatRate, formatSeconds } from '../../src/http/dashboard/format.js';

const b = (le: number, count: number): { le: number; count: number } => ({ le, count });

describe('parseMetrics (Prometheus text format)', () => {
  it('reads HELP, TYPE, labels with escapes, special values and timestamps', () => {
    const text = [
      '# HELP kscore_x_total Events with a \\\\ backslash and a\\nnewline',
      '# TYPE kscore_x_total counter',
      'kscore_x_total{topic="a,b",note="say \\"hi\\"\\\\\\n"} 12 1700000000000',
      'kscore_x_total{topic="c"} 3',
      '# a plain comment',
      '# TYPE up gauge',
      'up 1',
      'inf_gauge +Inf',
      'neg_gauge -Inf',
      'nan_gauge NaN',
      'sci 1.5e-3',
      '',
    ].join('\n');
    const { families, errors } = parseMetrics(text);
    expect(errors).toBe(0);
    const x = families.get('kscore_x_total')!;
    expect(x.type).toBe('counter');
    expect(x.help).toBe('Events with a \\ backslash and a\nnewline');
    expect(x.samples).toEqual([
      { name: 'kscore_x_total', labels: { topic: 'a,b', note: 'say "hi"\\\n' }, value: 12 },
      { name: 'kscore_x_total', labels: { topic: 'c' }, value: 3 },
    ]);
    expect(sumOf(families, 'kscore_x_total')).toBe(15);
    expect(sumOf(families, 'kscore_x_total', { topic: 'c' })).toBe(3);
    expect(sumOf(families, 'up')).toBe(1);
    expect(families.get('inf_gauge')!.samples[0]!.value).toBe(Infinity);
    expect(families.get('neg_gauge')!.samples[0]!.value).toBe(-Infinity);
    expect(Number.isNaN(families.get('nan_gauge')!.samples[0]!.value)).toBe(true);
    expect(families.get('inf_gauge')!.type).toBe('untyped');
    expect(sumOf(families, 'sci')).toBeCloseTo(0.0015, 12);
  });

  it('skips malformed lines, counts them, and keeps the rest', () => {
    const { families, errors } = parseMetrics('good 1\nbad{a="1" 2\nworse{a=1} 3\nnovalue\nalso_good{a="x"} 4\n');
    expect(errors).toBe(3);
    expect(sumOf(families, 'good')).toBe(1);
    expect(sumOf(families, 'also_good')).toBe(4);
  });

  it("reads prom-client's own output: counters, labelled gauges and histograms", async () => {
    const registry = new Registry();
    const c = new Counter({ name: 't_events_total', help: 'Events "quoted" \\ here', labelNames: ['topic'], registers: [registry] });
    const g = new Gauge({ name: 't_lag', help: 'lag', labelNames: ['topic', 'partition'], registers: [registry] });
    const hist = new Histogram({ name: 't_seconds', help: 'latency', buckets: [0.01, 0.1, 1], labelNames: ['model'], registers: [registry] });
    c.inc({ topic: 'features' }, 5);
    c.inc({ topic: 'weird "topic"\n' }, 2);
    g.set({ topic: 'features', partition: '0' }, 7);
    g.set({ topic: 'features', partition: '1' }, 0);
    for (const v of [0.005, 0.05, 0.05, 0.5, 2]) hist.observe({ model: 'a' }, v);
    hist.observe({ model: 'b' }, 0.05);

    const { families, errors } = parseMetrics(await registry.metrics());
    expect(errors).toBe(0);
    expect(families.get('t_events_total')!.type).toBe('counter');
    expect(samples(families, 't_events_total', { topic: 'weird "topic"\n' })[0]!.value).toBe(2);
    expect(sumOf(families, 't_events_total')).toBe(7);
    expect(samples(families, 't_lag').map((s) => [s.labels['partition'], s.value])).toEqual([
      ['0', 7],
      ['1', 0],
    ]);

    const h = histogram(families, 't_seconds')!;
    expect(families.get('t_seconds')!.type).toBe('histogram');
    expect(h.count).toBe(6);
    expect(h.sum).toBeCloseTo(2.655, 9);
    expect(h.buckets).toEqual([b(0.01, 1), b(0.1, 4), b(1, 5), b(Infinity, 6)]);
    const onlyA = histogram(families, 't_seconds', { model: 'a' })!;
    expect(onlyA.count).toBe(5);
    expect(onlyA.buckets).toEqual([b(0.01, 1), b(0.1, 3), b(1, 4), b(Infinity, 5)]);
  });

  it('finds nothing, without throwing, for metrics that are not there', () => {
    const { families } = parseMetrics('');
    expect(samples(families, 'kscore_consumer_lag')).toEqual([]);
    expect(sumOf(families, 'kscore_consumer_lag')).toBeUndefined();
    expect(histogram(families, 'kscore_end_to_end_seconds')).toBeUndefined();
    expect(replayJobs(families)).toEqual([]);
  });

  it('parses values as Prometheus writes them', () => {
    expect(parseValue('+Inf')).toBe(Infinity);
    expect(parseValue('-Inf')).toBe(-Infinity);
    expect(parseValue('42')).toBe(42);
    expect(parseValue('-1.5e2')).toBe(-150);
    expect(Number.isNaN(parseValue(''))).toBe(true);
  });
});

describe('histogramQuantile (the arithmetic of Prometheus histogram_quantile)', () => {
  const buckets = [b(0.1, 10), b(0.5, 30), b(1, 40), b(Infinity, 40)];

  it('interpolates linearly inside the bucket where the rank falls', () => {
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.3, 12); // rank 20: 0.1 + 0.4 * 10/20
    expect(histogramQuantile(0.99, buckets)).toBeCloseTo(0.98, 12); // rank 39.6: 0.5 + 0.5 * 9.6/10
    expect(histogramQuantile(0.25, buckets)).toBeCloseTo(0.1, 12); // rank 10: the top of the first bucket
    expect(histogramQuantile(0.05, buckets)).toBeCloseTo(0.02, 12); // rank 2: the first bucket starts at 0
  });

  it('answers the highest finite bound when the rank falls in +Inf, and NaN without data', () => {
    expect(histogramQuantile(0.9, [b(1, 5), b(2, 5), b(Infinity, 10)])).toBe(2);
    expect(histogramQuantile(0.5, [b(1, 0), b(Infinity, 0)])).toBeNaN();
    expect(histogramQuantile(0.5, [b(1, 3)])).toBeNaN(); // no +Inf bucket
    expect(histogramQuantile(0.5, [])).toBeNaN();
  });

  it('handles out-of-range q, negative bounds, unsorted and non-monotonic buckets', () => {
    expect(histogramQuantile(-0.1, buckets)).toBe(-Infinity);
    expect(histogramQuantile(1.5, buckets)).toBe(Infinity);
    expect(histogramQuantile(0.1, [b(-1, 5), b(0, 5), b(Infinity, 5)])).toBe(-1);
    expect(histogramQuantile(0.5, [b(Infinity, 40), b(1, 40), b(0.1, 10), b(0.5, 30)])).toBeCloseTo(0.3, 12);
    // A bucket lower than the one before (a scrape taken mid-update) is lifted to it.
    expect(histogramQuantile(0.5, [b(1, 10), b(2, 8), b(Infinity, 10)])).toBeCloseTo(0.5, 12);
  });
});

describe('rates and increases between scrapes', () => {
  it('counts a counter that went down as reset', () => {
    expect(counterIncrease(10, 25)).toBe(15);
    expect(counterIncrease(100, 7)).toBe(7);
    expect(counterIncrease(undefined, 7)).toBeUndefined();
    expect(rate(10, 30, 2)).toBe(10);
    expect(rate(10, 30, 0)).toBeUndefined();
    expect(rate(50, 20, 10)).toBe(2);
  });

  it('subtracts histograms bucket by bucket, or takes the new one after a restart', () => {
    const before = { buckets: [b(1, 2), b(2, 5), b(Infinity, 6)], count: 6, sum: 7 };
    const after = { buckets: [b(1, 4), b(2, 9), b(Infinity, 12)], count: 12, sum: 15 };
    expect(histogramIncrease(before, after)).toEqual({ buckets: [b(1, 2), b(2, 4), b(Infinity, 6)], count: 6, sum: 8 });
    const restarted = { buckets: [b(1, 1), b(2, 1), b(Infinity, 1)], count: 1, sum: 0.5 };
    expect(histogramIncrease(after, restarted)).toEqual(restarted);
    expect(histogramIncrease(undefined, after)).toBeUndefined();
    expect(histogramQuantile(0.5, histogramIncrease(before, after)!.buckets)).toBeCloseTo(1.5, 12);
  });
});

describe('replayJobs', () => {
  it("reads each job's state, progress, rate, time left and records from the replay gauges", async () => {
    // The service's own replay gauges (src/replay/metrics.ts), fed two job statuses.
    const registry = new Registry();
    const replay = new ReplayMetrics(registry);
    const status = (id: string, state: string, progress: Record<string, number | null>): ReplayStatus => ({ id, state, progress }) as unknown as ReplayStatus;
    replay.update(
      status('backfill-2', 'running', { ratio: 0.25, doneOffsets: 2500, plannedOffsets: 10_000, ratePerSecond: 500, etaSeconds: 15, predictions: 2450, deadLetters: 50, alreadyWritten: 0 }),
    );
    replay.update(status('audit-1', 'succeeded', { ratio: 1, doneOffsets: 40, plannedOffsets: 40, ratePerSecond: 0, etaSeconds: null, predictions: 40, deadLetters: 0, alreadyWritten: 3 }));

    const jobs = replayJobs(parseMetrics(await registry.metrics()).families);
    expect(jobs).toEqual([
      { job: 'audit-1', state: 'succeeded', progress: 1, done: 40, planned: 40, ratePerSecond: 0, etaSeconds: undefined, records: { prediction: 40, dead_letter: 0, already_written: 3 } },
      { job: 'backfill-2', state: 'running', progress: 0.25, done: 2500, planned: 10_000, ratePerSecond: 500, etaSeconds: 15, records: { prediction: 2450, dead_letter: 50, already_written: 0 } },
    ]);
  });

  it('takes progress from done over planned without a ratio, and the job from replay_job, also beside the scrape job', () => {
    const { families } = parseMetrics(
      [
        'kscore_replay_offsets_done_total{job="kscore",replay_job="r-1",instance="a"} 30',
        'kscore_replay_offsets_planned{job="kscore",replay_job="r-1",instance="a"} 120',
        'kscore_replay_state{job="kscore",replay_job="r-1",instance="a",state="pending"} 0',
        'kscore_replay_state{job="kscore",replay_job="r-1",instance="a",state="interrupted"} 1',
        'kscore_replay_eta_seconds{job="kscore",replay_job="r-1",instance="a"} -1',
      ].join('\n'),
    );
    expect(replayJobs(families)).toEqual([
      { job: 'r-1', state: 'interrupted', progress: 0.25, done: 30, planned: 120, ratePerSecond: undefined, etaSeconds: undefined, records: {} },
    ]);
  });
});

describe('schedules', () => {
  it("reads each schedule's next firing, last run and its outcome, paused and running from the schedule gauges", async () => {
    // The service's own schedule gauges (src/schedule/metrics.ts), fed two schedules.
    const registry = new Registry();
    const metrics = new ScheduleMetrics(registry);
    const T = Date.UTC(2026, 10, 27, 2);
    metrics.show([
      { id: 'nightly', paused: false, running: false, nextRunAt: T + 86_400_000, lastRun: { state: 'failed', finishedAt: T + 60_000 } },
      { id: 'hourly', paused: true, running: true },
    ]);
    expect(schedules(parseMetrics(await registry.metrics()).families)).toEqual([
      { schedule: 'hourly', paused: true, running: true, nextRunAt: undefined, lastRunAt: undefined, lastOutcome: undefined },
      { schedule: 'nightly', paused: false, running: false, nextRunAt: T + 86_400_000, lastRunAt: T + 60_000, lastOutcome: 'failed' },
    ]);
    expect(schedules(parseMetrics('kscore_events_in_total 3').families)).toEqual([]);
  });
});

describe('number formats', () => {
  it('writes counts, rates, durations, bytes and shares short and with the unit', () => {
    expect(formatCount(1234567.4)).toBe('1,234,567');
    expect(formatCount(undefined)).toBe('–');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(3.456)).toBe('3.46');
    expect(formatNumber(12.34)).toBe('12.3');
    expect(formatNumber(5000)).toBe('5000');
    expect(formatNumber(12345)).toBe('12.3k');
    expect(formatNumber(2.5e6)).toBe('2.5M');
    expect(formatRate(851.2)).toBe('851/s');
    expect(formatRate(undefined)).toBe('–');
    expect(formatSeconds(0.000175)).toBe('175 µs');
    expect(formatSeconds(0.0125)).toBe('12.5 ms');
    expect(formatSeconds(1.25)).toBe('1.25 s');
    expect(formatSeconds(600)).toBe('10 min');
    expect(formatSeconds(NaN)).toBe('–');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(180 * 1024 * 1024)).toBe('180 MiB');
    expect(formatPercent(0.1)).toBe('10 %');
    expect(formatPercent(0.668)).toBe('66.8 %');
  });
});
