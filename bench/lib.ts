import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export const repo = fileURLToPath(new URL('..', import.meta.url));

/** The p-th percentile (0-100) of sorted values, by nearest rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(values: number[]): { n: number; p50: number; p99: number; p999: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

/** What a figure was measured on: machine, date and commit. */
export function provenance(): { date: string; commit: string; cpus: string; cores: number; memoryGiB: number; node: string } {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repo }).toString().trim();
    if (dirty.length > 0) commit += '+changes';
  } catch {
    // not a git checkout
  }
  const c = cpus();
  return {
    date: new Date().toISOString(),
    commit,
    cpus: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

/** Writes `docs/<name>.json` and `docs/<name>.md`. */
export function writeReport(name: string, json: object, markdown: string): void {
  mkdirSync(`${repo}/docs`, { recursive: true });
  writeFileSync(`${repo}/docs/${name}.json`, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(`${repo}/docs/${name}.md`, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  process.stderr.write(`wrote docs/${name}.json and docs/${name}.md\n`);
}

export function ms(x: number): string {
  return Number.isFinite(x) ? x.toFixed(1) : '-';
}
