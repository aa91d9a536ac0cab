import type { Config } from '../config/index.js';
import { routeTable, type RouteTable } from '../config/routes.js';
import { buildRouter } from '../pipeline/router.js';
import type { Router } from '../pipeline/types.js';
import type { ModelSet } from '../scoring/model-set.js';

/** The routing table of the configuration: `KSCORE_ROUTES`, or the one route of the single-model settings. */
export function tableOf(config: Config): RouteTable {
  return routeTable(config);
}

/** The topics the service's one consumer group reads. */
export function sourceTopics(table: RouteTable): string[] {
  return table.topics.map((t) => t.topic);
}

/** Every topic the service writes: each route's predictions, dead letters and shadow, and split topics' unmatched. */
export function outputTopics(table: RouteTable): string[] {
  const out = new Set<string>();
  for (const r of table.routes) {
    out.add(r.predictionsTopic);
    out.add(r.deadLetterTopic);
    if (r.shadowAlias !== undefined) out.add(r.shadowTopic);
  }
  for (const t of table.topics) if (t.key !== undefined) out.add(t.unmatchedTopic);
  return [...out];
}

/** A router sending each route's events to its model's manager, and its outcomes to the route's topics. */
export function routerOf(table: RouteTable, models: ModelSet): Router {
  const specs = table.routes.map((r) => ({
    topic: r.topic,
    ...(r.match === undefined ? {} : { match: r.match }),
    provider: models.get(r.model)!,
    to: { predictionsTopic: r.predictionsTopic, deadLetterTopic: r.deadLetterTopic, shadowTopic: r.shadowAlias === undefined ? undefined : r.shadowTopic },
  }));
  const unmatched = new Map(table.topics.map((t) => [t.topic, t.unmatchedTopic]));
  // Events of a split topic that match no route only ever become dead letters.
  return buildRouter(specs, (topic) => ({ predictionsTopic: unmatched.get(topic)!, deadLetterTopic: unmatched.get(topic)! }));
}
