import type { z } from 'zod';
import { ReplayParamsError } from './range.js';
import { replayParamsSchema, type ReplayParams } from './types.js';

/** Validates a job request (JSON from HTTP or built by the CLI); the error names each bad field. */
export function parseReplayParams(input: unknown): ReplayParams {
  const parsed = replayParamsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ReplayParamsError(`invalid replay: ${describeIssues(parsed.error.issues).join('; ')}`);
}

/** One sentence per problem; for a union, the problems of the alternative that came closest. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix: (string | number)[] = []): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // The alternative with the fewest complaints, unless every one just refuses the keys.
      const best = [...issue.errors].sort((a, b) => score(a) - score(b))[0]!;
      const unknownKeys = issue.errors.map((e) => e.find((i) => i.code === 'unrecognized_keys'));
      if (unknownKeys.every((i) => i !== undefined)) out.push(...describeIssues([unknownKeys[0]!], path));
      else out.push(...describeIssues(best, path));
      continue;
    }
    out.push(`${where(path)}${issue.message}`);
  }
  return out;
}

function score(issues: readonly z.core.$ZodIssue[]): number {
  // Unknown keys mean "the wrong alternative", not "a nearly right one".
  return issues.reduce((s, i) => s + (i.code === 'unrecognized_keys' || i.code === 'invalid_type' ? 10 : 1), 0);
}

function where(path: (string | number)[]): string {
  return path.length === 0 ? '' : `${path.join('.')}: `;
}
