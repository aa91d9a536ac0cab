import type { EventDecoder } from '../codec/types.js';
import { PoisonEventError } from '../errors.js';
import type { DeadLetterOutcome, RecordOutcome, SourceMessage, SplitRouting } from './types.js';

/** The events of a batch that go to one route, with their places in the batch. */
export interface RouteGroup {
  readonly route: number;
  readonly messages: SourceMessage[];
  /** Their decoded values, when the routing had to decode them (a field); else undefined. */
  readonly decoded: unknown[] | undefined;
  /** `at[j]` is the batch index of `messages[j]`. */
  readonly at: Int32Array;
}

/** A batch split between the routes of its topic, and what matched none. */
export interface SplitBatch {
  readonly groups: RouteGroup[];
  /** Dead letters of the events that matched no route (or could not be decoded to find one). */
  readonly unmatched: readonly DeadLetterOutcome[];
  readonly unmatchedAt: readonly number[];
}

/**
 * Routes each event of a batch by its header or field: counts per route first, then one array per
 * route filled in batch order, so nothing is allocated per event but the arrays' slots. An event
 * routed by a field is decoded here, once; its route scores the decoded value.
 */
export function splitByRoute(routing: SplitRouting, messages: readonly SourceMessage[], decoder: EventDecoder): SplitBatch {
  const n = messages.length;
  const routeOf = new Int16Array(n);
  const counts = new Int32Array(routing.routes.length);
  const decoded = routing.byField ? new Array<unknown>(n) : undefined;
  const unmatched: DeadLetterOutcome[] = [];
  const unmatchedAt: number[] = [];
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    let value: unknown;
    if (decoded !== undefined) {
      try {
        value = decoded[i] = decoder.decode(m.value);
      } catch (err) {
        if (!(err instanceof PoisonEventError)) throw err;
        routeOf[i] = -1;
        unmatched.push({ kind: 'dead-letter', source: m, reason: err.reason, detail: err.message, to: routing.unmatched });
        unmatchedAt.push(i);
        continue;
      }
    }
    const r = routing.match(m, value);
    routeOf[i] = r;
    if (r >= 0) {
      counts[r]!++;
      continue;
    }
    unmatched.push({ kind: 'dead-letter', source: m, reason: 'no-route', detail: routing.unmatchedDetail(m, value), to: routing.unmatched });
    unmatchedAt.push(i);
  }
  const groups: RouteGroup[] = [];
  const groupOf = new Int16Array(routing.routes.length).fill(-1);
  counts.forEach((count, route) => {
    if (count === 0) return;
    groupOf[route] = groups.length;
    groups.push({ route, messages: new Array<SourceMessage>(count), decoded: decoded === undefined ? undefined : new Array<unknown>(count), at: new Int32Array(count) });
  });
  const filled = new Int32Array(groups.length);
  for (let i = 0; i < n; i++) {
    const r = routeOf[i]!;
    if (r < 0) continue;
    const g = groupOf[r]!;
    const group = groups[g]!;
    const j = filled[g]!++;
    group.messages[j] = messages[i]!;
    if (group.decoded !== undefined) group.decoded[j] = decoded![i];
    group.at[j] = i;
  }
  return { groups, unmatched, unmatchedAt };
}

/** The outcomes of a split batch back in batch order. */
export function mergeOutcomes(n: number, groups: readonly { at: ArrayLike<number>; outcomes: readonly RecordOutcome[] }[]): RecordOutcome[] {
  const out = new Array<RecordOutcome>(n);
  for (const g of groups) {
    for (let j = 0; j < g.at.length; j++) out[g.at[j]!] = g.outcomes[j]!;
  }
  return out;
}
