import type { HeaderValue } from '../kafka/index.js';
import type { Destinations, RoutedModel, Router, SourceMessage, SplitRouting, TopicRouting } from './types.js';

/** One route: a topic's events (or those whose header or field holds `match.value`) to one model. */
export interface RouteSpec extends RoutedModel {
  readonly topic: string;
  readonly match?: { readonly by: 'header' | 'field'; readonly name: string; readonly value: string };
}

/**
 * A router over `specs` (a checked routing table: on a split topic every route names the same
 * header or field, and no value twice). Each topic's routing is built once; matching an event
 * looks its header bytes or field value up without allocating (a number or boolean field is
 * turned into its string form). `unmatched(topic)`: where a split topic's unrouted events go.
 */
export function buildRouter(specs: readonly RouteSpec[], unmatched: (topic: string) => Destinations): Router {
  const byTopic = new Map<string, RouteSpec[]>();
  for (const s of specs) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s]);
  const routings = new Map<string, TopicRouting>();
  for (const [topic, routes] of byTopic) {
    const first = routes[0]!;
    if (first.match === undefined) {
      if (routes.length > 1) throw new Error(`topic ${topic}: a route without a header or field must be its topic's only route`);
      routings.set(topic, { kind: 'single', route: first });
    } else {
      routings.set(topic, splitRouting(topic, routes, unmatched(topic)));
    }
  }
  return { forTopic: (topic) => routings.get(topic) };
}

function splitRouting(topic: string, routes: readonly RouteSpec[], unmatched: Destinations): SplitRouting {
  const { by, name } = routes[0]!.match!;
  const values = routes.map((r) => {
    if (r.match?.by !== by || r.match.name !== name) throw new Error(`topic ${topic}: every route must match on the same ${by} ${name}`);
    return r.match.value;
  });
  const index = new Map(values.map((v, i) => [v, i]));
  if (index.size !== values.length) throw new Error(`topic ${topic}: a ${by} value names two routes`);
  const bytes = values.map((v) => Buffer.from(v));
  const described = `${by} ${name}`;
  const expected = values.join(', ');
  const fieldValue = (decoded: unknown): unknown => (decoded !== null && typeof decoded === 'object' ? (decoded as Record<string, unknown>)[name] : undefined);
  return {
    kind: 'split',
    routes,
    byField: by === 'field',
    unmatched,
    match:
      by === 'header'
        ? (m: SourceMessage) => headerRoute(m.headers?.[name], index, bytes)
        : (_m: SourceMessage, decoded: unknown) => {
            const v = fieldValue(decoded);
            if (typeof v === 'string') return index.get(v) ?? -1;
            return typeof v === 'number' || typeof v === 'boolean' ? (index.get(String(v)) ?? -1) : -1;
          },
    unmatchedDetail: (m, decoded) => {
      const v = by === 'header' ? headerText(m.headers?.[name]) : fieldValue(decoded);
      return v === undefined ? `no ${described}; routes take ${expected}` : `${described} is ${JSON.stringify(v)}; routes take ${expected}`;
    },
  };
}

function headerRoute(h: HeaderValue, index: ReadonlyMap<string, number>, bytes: readonly Buffer[]): number {
  const v = Array.isArray(h) ? h[0] : h;
  if (v === undefined) return -1;
  if (typeof v === 'string') return index.get(v) ?? -1;
  for (let i = 0; i < bytes.length; i++) if (v.equals(bytes[i]!)) return i;
  return -1;
}

function headerText(h: HeaderValue): string | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  return v === undefined ? undefined : v.toString();
}
