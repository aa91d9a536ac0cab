import { countFirings, latestAtOrBefore, nextAfter, recentFirings, type CronSpec } from './cron.js';
import type { CatchUpPolicy } from './types.js';

/** Most missed firings the `all` policy runs; older ones are skipped. */
export const MAX_CATCH_UP_RUNS = 100;
/** Skipped firings are counted up to this many (the history says "100 or more" beyond). */
const COUNT_CAP = 100;

/** Firings dealt with together: one to run now (maybe none), and a stretch of them skipped. */
export interface DueDecision {
  /** The firing to run. */
  readonly run?: number;
  /** Firings `from` to `until` (inclusive) that are not run, and why. */
  readonly skipped?: { readonly from: number; readonly until: number; readonly count: number; readonly capped: boolean; readonly reason: string };
  /** The schedule's cursor once this is done: firings after it are due later. */
  readonly cursor: number;
}

/**
 * What is due at `now` for a schedule whose firings up to `cursor` were dealt with. Undefined when
 * nothing is. A firing noticed within `graceMs` of its time is on time; more than one due firing,
 * or one noticed later, means firings were missed while no replica ran, and the policy decides:
 * - `latest`: the most recent one runs, once; the earlier ones are skipped. (With "since previous
 *   run" ranges nothing is lost: the run starts where the last one ended.)
 * - `all`: every missed firing runs, oldest first, one after the other (the newest
 *   MAX_CATCH_UP_RUNS; older ones are skipped).
 * - `none`: missed firings are skipped; only a firing on time runs.
 */
export function dueFirings(spec: CronSpec, cursor: number, now: number, policy: CatchUpPolicy, graceMs: number): DueDecision | undefined {
  const latest = latestAtOrBefore(spec, now);
  if (latest <= cursor) return undefined;
  const first = nextAfter(spec, cursor);
  if (policy === 'all') {
    const { firings, more } = recentFirings(spec, cursor, now, MAX_CATCH_UP_RUNS);
    const run = firings[0]!;
    if (!more) return { run, cursor: run };
    const until = latestBefore(spec, run);
    return { run, cursor: run, skipped: { from: first, until, ...countFirings(spec, cursor, until, COUNT_CAP), reason: `more than ${MAX_CATCH_UP_RUNS} firings were missed (catch-up policy all)` } };
  }
  const onTime = now - latest <= graceMs;
  if (policy === 'none' && !onTime) {
    return { cursor: latest, skipped: { from: first, until: latest, ...countFirings(spec, cursor, latest, COUNT_CAP), reason: 'missed while no scheduler ran (catch-up policy none)' } };
  }
  if (first === latest) return { run: latest, cursor: latest };
  const until = latestBefore(spec, latest);
  const reason = policy === 'none' ? 'missed while no scheduler ran (catch-up policy none)' : 'a later firing ran instead (catch-up policy latest)';
  return { run: latest, cursor: latest, skipped: { from: first, until, ...countFirings(spec, cursor, until, COUNT_CAP), reason } };
}

/** The firing before `t` (t being one). */
function latestBefore(spec: CronSpec, t: number): number {
  return latestAtOrBefore(spec, t - 1);
}
