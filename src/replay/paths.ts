import { isAbsolute, normalize, resolve, sep } from 'node:path';

/**
 * Keeps a requested file path inside a folder (replays and schedules asked for over HTTP write
 * under KSCORE_REPLAY_OUTPUT_DIR only): the full path, or undefined for an absolute path or one
 * that climbs out.
 */
export function confinePath(outputDir: string, requested: string): string | undefined {
  if (isAbsolute(requested) || normalize(requested).split(/[\\/]/).includes('..')) return undefined;
  const root = resolve(outputDir);
  const full = resolve(root, requested);
  return full.startsWith(root + sep) ? full : undefined;
}
