import { CronExpressionParser } from 'cron-parser';
import { IANAZone } from 'luxon';

/**
 * Firing times of a cron expression read in an IANA time zone (cron-parser, which follows the
 * zone's daylight-saving changes: a local time that does not exist that day fires at the first
 * time after it, one that exists twice fires once). Pure: times in, times out, epoch ms.
 */
export interface CronSpec {
  readonly expression: string;
  readonly timeZone: string;
}

/** Why the expression or the zone cannot be used, or undefined when both can. */
export function cronProblem(spec: CronSpec): string | undefined {
  if (!IANAZone.isValidZone(spec.timeZone)) return `"${spec.timeZone}" is not an IANA time zone (like UTC or Europe/Berlin)`;
  try {
    CronExpressionParser.parse(spec.expression, { currentDate: new Date(0), tz: spec.timeZone }).next();
    return undefined;
  } catch (err) {
    return `cron "${spec.expression}": ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** The first firing strictly after `t`. */
export function nextAfter(spec: CronSpec, t: number): number {
  return CronExpressionParser.parse(spec.expression, { currentDate: new Date(t), tz: spec.timeZone }).next().getTime();
}

/** The last firing at or before `t`. */
export function latestAtOrBefore(spec: CronSpec, t: number): number {
  return CronExpressionParser.parse(spec.expression, { currentDate: new Date(t + 1), tz: spec.timeZone }).prev().getTime();
}

/**
 * The firings in `(after, until]`, newest last, at most `max` of them: the newest ones. `more` says
 * that older ones in the interval were left out.
 */
export function recentFirings(spec: CronSpec, after: number, until: number, max: number): { firings: number[]; more: boolean } {
  const it = CronExpressionParser.parse(spec.expression, { currentDate: new Date(until + 1), tz: spec.timeZone });
  const firings: number[] = [];
  while (firings.length < max) {
    const t = it.prev().getTime();
    if (t <= after) return { firings: firings.reverse(), more: false };
    firings.push(t);
  }
  const more = it.prev().getTime() > after;
  return { firings: firings.reverse(), more };
}

/** How many firings fall in `(after, until]`, counting up to `cap` (`capped` when there are more). */
export function countFirings(spec: CronSpec, after: number, until: number, cap: number): { count: number; capped: boolean } {
  const it = CronExpressionParser.parse(spec.expression, { currentDate: new Date(after), tz: spec.timeZone });
  let count = 0;
  while (count < cap) {
    if (it.next().getTime() > until) return { count, capped: false };
    count++;
  }
  return { count, capped: it.next().getTime() <= until };
}
