import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { NAME_CHARS, NAME_PATTERN, TOPIC_PATTERN } from './names.js';

/**
 * The routing table of a service that scores several models (`KSCORE_ROUTES`): which topic, or
 * which value of a header or a field on a topic, goes to which model and alias, and where its
 * predictions and dead letters go. Without it the single-model settings make the one route.
 */
const topicName = z.string().regex(TOPIC_PATTERN, `may hold only ${NAME_CHARS} (1 to 249)`);
const name = z.string().regex(NAME_PATTERN, `may hold only ${NAME_CHARS} (1 to 128)`);

export const routeEntrySchema = z
  .object({
    topic: topicName,
    model: name,
    /** Default: KSCORE_MODEL_ALIAS. */
    alias: name.optional(),
    /** Default: KSCORE_SHADOW_ALIAS; empty turns shadowing off for the model. */
    shadowAlias: z.union([z.literal(''), name]).optional(),
    /** Route the events of `topic` whose header of this name holds `value`. */
    header: z.string().min(1).max(256).optional(),
    /** Route the events of `topic` whose top-level field of this name holds `value`. */
    field: z.string().min(1).max(256).optional(),
    value: z.union([z.string(), z.number(), z.boolean()]).transform(String).optional(),
    /** Default `<model>.predictions`. */
    predictionsTopic: topicName.optional(),
    /** Default `<model>.dlq`. */
    deadLetterTopic: topicName.optional(),
    /** Default `<predictionsTopic>.shadow`. */
    shadowTopic: topicName.optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.header !== undefined && e.field !== undefined) ctx.addIssue({ code: 'custom', message: 'give "header" or "field", not both' });
    if ((e.header !== undefined || e.field !== undefined) && e.value === undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: `needed with "${e.header !== undefined ? 'header' : 'field'}"` });
    if (e.header === undefined && e.field === undefined && e.value !== undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: 'needs a "header" or a "field" to compare with' });
  });

export type RouteEntry = z.output<typeof routeEntrySchema>;

/** What decides the route of an event on a topic split between models. */
export interface RouteKey {
  readonly by: 'header' | 'field';
  readonly name: string;
}

/** One route with its defaults filled in. */
export interface Route {
  /** Its place in the table (0 for the single-model route). */
  readonly index: number;
  readonly topic: string;
  readonly model: string;
  readonly alias: string;
  /** Undefined: no shadow. */
  readonly shadowAlias: string | undefined;
  /** Set on a topic split between models: the value of the key this route takes. */
  readonly match?: RouteKey & { readonly value: string };
  readonly predictionsTopic: string;
  readonly deadLetterTopic: string;
  readonly shadowTopic: string;
}

/** The routes of one source topic. */
export interface TopicRoutes {
  readonly topic: string;
  /** Set when the topic is split between models by a header or field. */
  readonly key?: RouteKey;
  readonly routes: readonly Route[];
  /** Where events that match no route go (a split topic): `<topic>.dlq`. */
  readonly unmatchedTopic: string;
}

export interface RouteTable {
  readonly routes: readonly Route[];
  readonly topics: readonly TopicRoutes[];
  /** Each model once, with the aliases it serves. */
  readonly models: readonly { readonly name: string; readonly alias: string; readonly shadowAlias: string | undefined }[];
}

/** The settings a table is resolved from. */
export interface RouteSettings {
  routes?: readonly RouteEntry[] | undefined;
  featuresTopic: string;
  predictionsTopic: string;
  deadLetterTopic: string;
  shadowTopic?: string | undefined;
  modelName: string;
  modelAlias: string;
  shadowAlias: string;
}

/** Parses `KSCORE_ROUTES` (JSON: an array of routes); each problem names its entry. */
export function parseRouteEntries(text: string, ctx: z.RefinementCtx): RouteEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not JSON: ${err instanceof Error ? err.message : String(err)}` });
    return [];
  }
  if (!Array.isArray(json) || json.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON array of routes, e.g. [{"topic":"payments","model":"fraud"}]' });
    return [];
  }
  const entries: RouteEntry[] = [];
  json.forEach((item, i) => {
    const parsed = routeEntrySchema.safeParse(item);
    if (parsed.success) {
      entries.push(parsed.data);
      return;
    }
    for (const issue of parsed.error.issues) {
      const field = issue.path.length > 0 ? `"${issue.path.join('.')}": ` : '';
      ctx.addIssue({ code: 'custom', message: `${entryName(i, item)}: ${field}${issue.message}` });
    }
  });
  return entries;
}

function entryName(i: number, item: unknown): string {
  const e = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
  const parts = ['topic', 'model', 'header', 'field', 'value'].filter((k) => typeof e[k] === 'string' || typeof e[k] === 'number').map((k) => `${k} ${JSON.stringify(e[k])}`);
  return `[${i}]${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

/** The table the settings make, or the reasons they make none (each names its entry). */
export function resolveRoutes(s: RouteSettings): { table: RouteTable; problems: string[] } {
  const entries = s.routes;
  const routes: Route[] =
    entries === undefined
      ? [{ index: 0, topic: s.featuresTopic, model: s.modelName, alias: s.modelAlias, shadowAlias: s.shadowAlias || undefined, predictionsTopic: s.predictionsTopic, deadLetterTopic: s.deadLetterTopic, shadowTopic: s.shadowTopic ?? `${s.predictionsTopic}.shadow` }]
      : entries.map((e, index) => withDefaults(e, index, s));
  const problems: string[] = [];
  const topics = groupByTopic(routes, problems);
  checkModels(routes, problems);
  checkTopicRoles(routes, topics, problems);
  const models = [...new Map(routes.map((r) => [r.model, { name: r.model, alias: r.alias, shadowAlias: r.shadowAlias }])).values()];
  return { table: { routes, topics, models }, problems };
}

/** The table of a valid configuration (loadConfig has checked it). */
export function routeTable(s: RouteSettings): RouteTable {
  const { table, problems } = resolveRoutes(s);
  if (problems.length > 0) throw new ConfigError(`invalid KSCORE_ROUTES:\n  ${problems.join('\n  ')}`);
  return table;
}

/** The route that scores `model` on its topic (the first, when several do). */
export function routeOfModel(table: RouteTable, model: string): Route | undefined {
  return table.routes.find((r) => r.model === model);
}

function withDefaults(e: RouteEntry, index: number, s: RouteSettings): Route {
  const predictionsTopic = e.predictionsTopic ?? `${e.model}.predictions`;
  const shadowAlias = e.shadowAlias ?? s.shadowAlias;
  const key = e.header !== undefined ? { by: 'header' as const, name: e.header } : e.field !== undefined ? { by: 'field' as const, name: e.field } : undefined;
  return {
    index,
    topic: e.topic,
    model: e.model,
    alias: e.alias ?? s.modelAlias,
    shadowAlias: shadowAlias === '' ? undefined : shadowAlias,
    ...(key === undefined ? {} : { match: { ...key, value: e.value ?? '' } }),
    predictionsTopic,
    deadLetterTopic: e.deadLetterTopic ?? `${e.model}.dlq`,
    shadowTopic: e.shadowTopic ?? `${predictionsTopic}.shadow`,
  };
}

const label = (r: Route): string => `KSCORE_ROUTES[${r.index}] (topic "${r.topic}", model "${r.model}"${r.match ? `, ${r.match.by} "${r.match.name}" = "${r.match.value}"` : ''})`;
const keyText = (k: RouteKey): string => `${k.by} "${k.name}"`;

/** A topic goes to one model, or is split by one header or field with a route per value. */
function groupByTopic(routes: readonly Route[], problems: string[]): TopicRoutes[] {
  const byTopic = new Map<string, Route[]>();
  for (const r of routes) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
  const out: TopicRoutes[] = [];
  for (const [topic, list] of byTopic) {
    const first = list[0]!;
    const key = first.match === undefined ? undefined : { by: first.match.by, name: first.match.name };
    const values = new Map<string, Route>();
    for (const r of list.slice(1)) {
      if (key === undefined) {
        problems.push(`${label(r)}: topic "${topic}" already goes to model "${first.model}" (${label(first)}); a topic goes to one model, or is split between models by one header or field`);
      } else if (r.match === undefined || r.match.by !== key.by || r.match.name !== key.name) {
        problems.push(`${label(r)}: topic "${topic}" is split by ${keyText(key)} (${label(first)}); every route of a split topic names that ${key.by} and a value`);
      }
    }
    if (key !== undefined) {
      for (const r of list) {
        if (r.match === undefined) continue;
        const dup = values.get(r.match.value);
        if (dup !== undefined) problems.push(`${label(r)}: value "${r.match.value}" is taken by ${label(dup)} already`);
        else values.set(r.match.value, r);
      }
    }
    out.push({ topic, ...(key === undefined ? {} : { key }), routes: list, unmatchedTopic: key === undefined ? first.deadLetterTopic : `${topic}.dlq` });
  }
  return out;
}

/** A model serves one alias (and one shadow alias) in a service, whichever routes lead to it. */
function checkModels(routes: readonly Route[], problems: string[]): void {
  const seen = new Map<string, Route>();
  for (const r of routes) {
    const other = seen.get(r.model);
    if (other === undefined) {
      seen.set(r.model, r);
      continue;
    }
    if (other.alias !== r.alias) problems.push(`${label(r)}: model "${r.model}" is routed with alias "${r.alias}" here and "${other.alias}" in ${label(other)}; a model serves one alias in a service`);
    if (other.shadowAlias !== r.shadowAlias) problems.push(`${label(r)}: model "${r.model}" has shadow alias "${r.shadowAlias ?? ''}" here and "${other.shadowAlias ?? ''}" in ${label(other)}`);
  }
}

type Role = 'source' | 'predictions' | 'dead-letter' | 'shadow';

/** Every topic has one role: events are never read from an output, predictions never mix with dead letters. */
function checkTopicRoles(routes: readonly Route[], topics: readonly TopicRoutes[], problems: string[]): void {
  const roles = new Map<string, { role: Role; by: string }>();
  const claim = (topic: string, role: Role, by: string): void => {
    const had = roles.get(topic);
    if (had === undefined) roles.set(topic, { role, by });
    else if (had.role !== role) problems.push(`${by}: topic "${topic}" would be its ${role} topic, but it is the ${had.role} topic of ${had.by}`);
  };
  for (const t of topics) claim(t.topic, 'source', label(t.routes[0]!));
  for (const r of routes) {
    claim(r.predictionsTopic, 'predictions', label(r));
    claim(r.deadLetterTopic, 'dead-letter', label(r));
    if (r.shadowAlias !== undefined) claim(r.shadowTopic, 'shadow', label(r));
  }
  for (const t of topics) if (t.key !== undefined) claim(t.unmatchedTopic, 'dead-letter', `the events of topic "${t.topic}" that match no route`);
}
