import { afterEach } from 'vitest';
import type { Child } from './child.js';

/** A list of clean-ups run after each test, newest first. */
export function cleanupAfterEach(): (() => Promise<void>)[] {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}

/** Kills a child process still running when the test ends. */
export function killAtCleanup(cleanups: (() => Promise<void>)[], child: Child): Child {
  cleanups.push(async () => {
    if (child.proc.exitCode === null && child.proc.signalCode === null) {
      child.proc.kill('SIGKILL');
      await child.exited;
    }
  });
  return child;
}
