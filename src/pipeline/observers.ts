import type { PipelineObserver } from './types.js';

type Callback = (...args: never[]) => void;

/** One observer that tells each of `observers` (metrics, the event log) what the pipeline reports. */
export function observeAll(...observers: PipelineObserver[]): PipelineObserver {
  const all: Record<string, Callback> = {};
  const keys = new Set(observers.flatMap((o) => Object.keys(o)));
  for (const key of keys) {
    const listeners = observers.map((o) => (o as Record<string, Callback | undefined>)[key]).filter((f): f is Callback => f !== undefined);
    all[key] = listeners.length === 1 ? listeners[0]! : (...args: never[]) => {
      for (const f of listeners) f(...args);
    };
  }
  return all as PipelineObserver;
}
