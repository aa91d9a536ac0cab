import { DateTime } from 'luxon';

/**
 * Names made per run: an output topic or file path of a schedule may hold placeholders, filled
 * from the run's range (in the schedule's zone) so that each run writes a file or topic of its own.
 *   {date}      the range's first day, 2026-11-26
 *   {hour}      its first hour, 00 to 23
 *   {start}     its start, 20261126T0000
 *   {firing}    the firing time, 20261127T0200
 *   {schedule}  the schedule's id
 * For "since previous run" ranges (no start time) the first three come from the firing time.
 */
export const PLACEHOLDERS = ['date', 'hour', 'start', 'firing', 'schedule'] as const;
const PLACEHOLDER = /\{([^{}]*)\}/g;

/** The placeholders of `text` that are not known. */
export function unknownPlaceholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((p) => !(PLACEHOLDERS as readonly string[]).includes(p));
}

export function templateValues(schedule: string, labelTime: number, firing: number, timeZone: string): Record<(typeof PLACEHOLDERS)[number], string> {
  const label = DateTime.fromMillis(labelTime, { zone: timeZone });
  return {
    date: label.toFormat('yyyy-MM-dd'),
    hour: label.toFormat('HH'),
    start: label.toFormat("yyyyMMdd'T'HHmm"),
    firing: DateTime.fromMillis(firing, { zone: timeZone }).toFormat("yyyyMMdd'T'HHmm"),
    schedule,
  };
}

export function fillTemplate(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => values[name] ?? whole);
}

/** The replay job of a firing: the same for every attempt, so a retry or a takeover continues it. */
export function runJobId(schedule: string, firing: number): string {
  return `${schedule}-${DateTime.fromMillis(firing, { zone: 'utc' }).toFormat("yyyyMMdd'T'HHmmss'Z'")}`;
}
