import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ModelError, asError } from '../src/errors.js';

// Errors are logged as `err` objects, so pino's error serializer writes their type, message and
// stack: a log search can filter on err.type, and a stack is there when a bug needs one.

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** JSON lines a pino logger wrote. */
function capture(): { log: pino.Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => chunks.push(s) });
  return { log, lines: () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('error logging', () => {
  it('writes type, message and stack of an error logged as { err }', () => {
    const { log, lines } = capture();
    log.error({ err: asError(new ModelError('MODEL_UNLOADABLE', 'bad bytes')), model: 'fraud' }, 'model load failed');
    log.warn({ err: asError('a thrown string') }, 'odd');
    const [first, second] = lines();
    expect(first!['err']).toMatchObject({ type: 'ModelError', message: 'bad bytes', code: 'MODEL_UNLOADABLE' });
    expect(String((first!['err'] as { stack: string }).stack)).toMatch(/^ModelError: bad bytes\n\s+at /);
    expect(second!['err']).toMatchObject({ type: 'Error', message: 'a thrown string' });
  });

  it('is how every log call in src/ passes an error: never its message as a string', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(SRC)) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // A log call whose fields carry an error as text (`err: errorMessage(e)`, `err: e.message`, `err: String(e)`).
          if (/\.(fatal|error|warn|info|debug|trace)\(/.test(line) && /\berr(or)?: *(errorMessage\(|String\(|\w+\.message\b)/.test(line)) {
            offenders.push(`${relative(SRC, file)}:${i + 1}: ${line.trim()}`);
          }
        });
    }
    expect(offenders).toEqual([]);
  });
});
