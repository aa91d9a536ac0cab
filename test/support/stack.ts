import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inject } from 'vitest';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));

export type StackServer = 'kafka' | 'registry' | 'redis';

/**
 * The fault controls of scripts/stack (stop, kill, freeze, thaw, start one server, data kept), for
 * fault tests. They need the servers to be scripts/stack's own.
 */
export async function stack(command: 'stop' | 'kill' | 'freeze' | 'thaw' | 'start', server: StackServer): Promise<void> {
  if (inject('servers').secure === undefined) throw new Error('fault tests need the servers of scripts/stack (scripts/stack up)');
  await run(`${repo}/scripts/stack`, [command, server], { cwd: repo, maxBuffer: 16 << 20 });
}
