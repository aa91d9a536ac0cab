import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FromThread, ThreadInit, ToThread } from './protocol.js';

/** A replay worker thread as the coordinator sees it. */
export interface ThreadHandle {
  readonly index: number;
  send(msg: ToThread): void;
  /** Resolves with the exit code when the thread ends. */
  readonly exited: Promise<number>;
  terminate(): Promise<void>;
}

/** Starts a replay thread (thread-entry.ts). */
export function startThread(init: ThreadInit, onMessage: (m: FromThread) => void, onError: (err: Error) => void): ThreadHandle {
  const worker = spawnWorker('thread-entry', init);
  worker.on('message', onMessage);
  worker.on('error', onError);
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return {
    index: init.index,
    send: (msg) => worker.postMessage(msg),
    exited,
    terminate: async () => {
      await worker.terminate();
    },
  };
}

/** Writes a JSON Lines output as Parquet in a worker thread: the encoding is CPU work and its writes are synchronous. */
export function convertToParquetInThread(from: string, to: string): Promise<{ rows: number }> {
  const worker = spawnWorker('parquet-entry', { from, to });
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { rows?: number; error?: string }) => (m.error === undefined ? resolve({ rows: m.rows ?? 0 }) : reject(new Error(m.error))));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the Parquet conversion thread exited with code ${code}`)));
  });
}

/**
 * Starts `<name>.ts|js` (next to this file) in a worker thread. Run from TypeScript sources (tsx,
 * vitest), the thread first registers tsx's loader, which a worker does not inherit; run from
 * compiled JavaScript it loads the entry directly.
 */
function spawnWorker(name: string, workerData: unknown): Worker {
  const self = import.meta.url;
  const fromSource = self.endsWith('.ts');
  const entry = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, self);
  return fromSource
    ? new Worker(
        `import(${JSON.stringify(tsxApi())}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })` +
          `.catch((e) => { console.error(e); process.exit(1); });`,
        { eval: true, workerData },
      )
    : new Worker(entry, { workerData });
}

let tsxApiUrl: string | undefined;

/** The URL of tsx's ESM API (`tsx/esm/api`, import condition), from its package exports. */
function tsxApi(): string {
  if (tsxApiUrl !== undefined) return tsxApiUrl;
  const pkgPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
  const rel = pkg.exports['./esm/api']?.import?.default;
  if (rel === undefined) throw new Error('tsx/esm/api has no import entry in tsx/package.json');
  tsxApiUrl = pathToFileURL(join(dirname(pkgPath), rel)).href;
  return tsxApiUrl;
}
