import { describe, expect, it } from 'vitest';
import { dueFirings } from '../../src/schedule/catch-up.js';
import { resolveRange } from '../../src/schedule/range.js';
import { fillTemplate, runJobId, templateValues } from '../../src/schedule/template.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 10, 20);
const daily = { expression: '0 2 * * *', timeZone: 'UTC' };
const GRACE = 60_000;

describe('which firings are due (catch-up policies)', () => {
  it('runs a firing on time once, and nothing before it or after it', () => {
    const cursor = T0 + DAY - 1;
    expect(dueFirings(daily, cursor, T0 + DAY + 2 * HOUR - 1, 'latest', GRACE)).toBeUndefined();
    expect(dueFirings(daily, cursor, T0 + DAY + 2 * HOUR + 5000, 'latest', GRACE)).toEqual({ run: T0 + DAY + 2 * HOUR, cursor: T0 + DAY + 2 * HOUR });
    expect(dueFirings(daily, T0 + DAY + 2 * HOUR, T0 + DAY + 3 * HOUR, 'latest', GRACE)).toBeUndefined();
  });

  it('latest: three missed days run the newest firing once and skip the two before', () => {
    const d = dueFirings(daily, T0, T0 + 3 * DAY + 5 * HOUR, 'latest', GRACE)!;
    expect(d.run).toBe(T0 + 3 * DAY + 2 * HOUR);
    expect(d.cursor).toBe(T0 + 3 * DAY + 2 * HOUR);
    expect(d.skipped).toMatchObject({ from: T0 + 2 * HOUR, until: T0 + 2 * DAY + 2 * HOUR, count: 3, capped: false });
  });

  it('all: missed firings run one after the other, oldest first', () => {
    const d = dueFirings(daily, T0, T0 + 3 * DAY + 5 * HOUR, 'all', GRACE)!;
    expect(d).toEqual({ run: T0 + 2 * HOUR, cursor: T0 + 2 * HOUR });
  });

  it('none: a late firing is skipped, a firing on time runs', () => {
    const late = dueFirings(daily, T0, T0 + 2 * HOUR + 10 * 60_000, 'none', GRACE)!;
    expect(late.run).toBeUndefined();
    expect(late).toMatchObject({ cursor: T0 + 2 * HOUR, skipped: { count: 1 } });
    expect(dueFirings(daily, T0, T0 + 2 * HOUR + 1000, 'none', GRACE)).toEqual({ run: T0 + 2 * HOUR, cursor: T0 + 2 * HOUR });
  });

  it('reads the cron expression in the schedule zone, daylight saving included', () => {
    const berlin = { expression: '0 2 * * *', timeZone: 'Europe/Berlin' };
    // 2026-11-20 02:00 in Berlin (UTC+1) is 01:00 UTC.
    expect(dueFirings(berlin, T0, T0 + 2 * HOUR, 'latest', GRACE)?.run).toBe(T0 + HOUR);
  });
});

describe('the range of a run', () => {
  it('previous day and hour by the zone calendar; last hours back from the firing', () => {
    const firing = T0 + DAY + 2 * HOUR;
    expect(resolveRange({ kind: 'previous-day' }, firing, 'UTC', undefined, 'f')).toMatchObject({ fromTime: T0, toTime: T0 + DAY });
    expect(resolveRange({ kind: 'previous-hour' }, firing + 30 * 60_000, 'UTC', undefined, 'f')).toMatchObject({ fromTime: firing - HOUR, toTime: firing });
    expect(resolveRange({ kind: 'last-hours', hours: 6 }, firing, 'UTC', undefined, 'f')).toMatchObject({ fromTime: firing - 6 * HOUR, toTime: firing });
    // In New York the day before 2026-11-21 07:00 UTC (02:00 local) starts at 05:00 UTC.
    const ny = resolveRange({ kind: 'previous-day' }, T0 + DAY + 7 * HOUR, 'America/New_York', undefined, 'f');
    expect(ny).toMatchObject({ fromTime: T0 + 5 * HOUR, toTime: T0 + DAY + 5 * HOUR });
  });

  it('since the previous run: from where it ended (same topic), else from the start or firstFrom', () => {
    const carry = { topic: 'f', offsets: { '0': 10, '1': 7 } };
    expect(resolveRange({ kind: 'since-previous-run' }, T0, 'UTC', carry, 'f')).toMatchObject({ from: { offsets: { '0': 10, '1': 7 } } });
    expect(resolveRange({ kind: 'since-previous-run' }, T0, 'UTC', carry, 'other').from).toBeUndefined();
    expect(resolveRange({ kind: 'since-previous-run', firstFrom: T0 - DAY }, T0, 'UTC', undefined, 'f')).toMatchObject({ from: { time: T0 - DAY } });
  });

  it('names outputs from the range start, and a firing job id that does not change between attempts', () => {
    const v = templateValues('nightly', T0, T0 + DAY + 2 * HOUR, 'UTC');
    expect(fillTemplate('scores/{schedule}/{date}.parquet', v)).toBe('scores/nightly/2026-11-20.parquet');
    expect(fillTemplate('predictions.backfill.{date}', v)).toBe('predictions.backfill.2026-11-20');
    expect(runJobId('nightly', T0 + DAY + 2 * HOUR)).toBe('nightly-20261121T020000Z');
  });
});
