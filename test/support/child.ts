import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/kscore.js', import.meta.url));

export interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs the real CLI in a child process, as a user would. */
export function runCli(args: string[], env: Record<string, string>): Child {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KSCORE_')));
  const proc = spawn(process.execPath, [bin, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, output: () => out, exited };
}

/**
 * The port of a child started with KSCORE_HTTP_PORT=0 (the OS picks a free one, so two runs never
 * race for it), read from the HTTP server's "listening" line: the child logs at info or below.
 */
export async function listeningPort(child: Child, timeoutMs = 90_000): Promise<number> {
  return eventually(() => {
    const m = /Server listening at https?:\/\/[^:"\s]+:(\d+)/.exec(child.output());
    if (m !== null) return Number(m[1]);
    if (child.proc.exitCode !== null) throw new Error(`the child exited (${child.proc.exitCode}) before listening: ${child.output().slice(-2000)}`);
    return undefined;
  }, timeoutMs, 'the child to listen');
}

/** Polls `fn` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
}
