import { compileAvro, subjectName, wireEncode, type CompiledSchema, type SchemaSource, type SubjectNameStrategy } from '../codec/index.js';
import type { OutgoingRecord, Producer } from '../kafka/index.js';

/** A synthetic event: its key and value. */
export interface LoadEvent {
  key: string;
  value: Buffer | string;
}

export type BadKind = 'decode-error' | 'missing-feature' | 'non-numeric-feature' | 'non-finite-feature' | 'unknown-schema';

export interface LoadOptions {
  topic: string;
  /** Events per second; 0 sends as fast as the broker takes them. */
  rate: number;
  /** Stop after this many events (default: run until `durationMs` or the signal). */
  count?: number;
  /** Stop after this long, in ms. */
  durationMs?: number;
  format: 'json' | 'avro';
  /** Subject the Avro event schema (record `kscore.demo.FeatureEvent`) is registered under; default `topic` (`<topic>-value`). */
  subjectNameStrategy?: SubjectNameStrategy;
  features: readonly string[];
  /** Every `badEvery`-th event is malformed, cycling through the kinds of bad input. 0: none. */
  badEvery?: number;
  /** Seed of the feature values, so a run can be repeated. */
  seed?: number;
  /** Keys are `${keyPrefix}${i}`. */
  keyPrefix?: string;
  /** Most events in one produce request. */
  maxBatch?: number;
  signal?: AbortSignal;
  onProgress?: (sent: number, elapsedMs: number) => void;
}

export const BAD_KINDS: readonly BadKind[] = [
  'decode-error',
  'missing-feature',
  'non-numeric-feature',
  'non-finite-feature',
  'unknown-schema',
];

/** A schema id that no registry hands out in tests: makes `unknown-schema` events. */
export const UNKNOWN_SCHEMA_ID = 0x7ffffff0;

/** The Avro schema of synthetic events: one double field per feature. */
/** The full name of the synthetic events' Avro record. */
export const EVENT_RECORD = 'kscore.demo.FeatureEvent';

export function featureEventSchema(features: readonly string[]): object {
  return {
    type: 'record',
    name: 'FeatureEvent',
    namespace: 'kscore.demo',
    fields: features.map((name) => ({ name, type: 'double' })),
  };
}

/** Deterministic feature values in [-1, 1): event `i` always gets the same values for a seed. */
export function syntheticFeatures(i: number, features: readonly string[], seed: number): Record<string, number> {
  const event: Record<string, number> = {};
  let s = (Math.imul(i + 1, 0x9e3779b1) ^ seed) >>> 0;
  for (const name of features) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    event[name] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return event;
}

export class LoadGenerator {
  private avroType: CompiledSchema | undefined;
  private schemaId = 0;

  constructor(
    private readonly producer: Producer,
    private readonly schemas: SchemaSource,
    private readonly options: LoadOptions,
  ) {}

  /** Which kind of bad event index `i` is, if any. */
  badKindOf(i: number): BadKind | undefined {
    const every = this.options.badEvery ?? 0;
    if (every <= 0 || (i + 1) % every !== 0) return undefined;
    const kinds = this.options.format === 'avro' ? BAD_KINDS : BAD_KINDS.filter((k) => k !== 'unknown-schema');
    return kinds[((i + 1) / every - 1) % kinds.length];
  }

  message(i: number): LoadEvent {
    const { features, seed = 1, keyPrefix = 'k' } = this.options;
    const event: Record<string, unknown> = syntheticFeatures(i, features, seed);
    const bad = this.badKindOf(i);
    const first = features[0]!;
    const key = `${keyPrefix}${i}`;
    if (bad === 'decode-error') return { key, value: this.options.format === 'avro' ? Buffer.from([0, 0, 0]) : '{"not json' };
    if (bad === 'missing-feature') delete event[first];
    if (bad === 'non-numeric-feature') event[first] = 'twelve';
    if (this.options.format === 'json') {
      const value = JSON.stringify(event);
      return { key, value: bad === 'non-finite-feature' ? value.replace(/^\{"([^"]+)":[^,}]+/, '{"$1":1e999') : value };
    }
    if (bad === 'non-finite-feature') event[first] = Number.NaN;
    if (bad === 'missing-feature' || bad === 'non-numeric-feature') {
      // Avro cannot carry these: write the event as JSON, which the service reads as JSON in `auto` mode.
      return { key, value: JSON.stringify(event) };
    }
    const body = this.avroType!.encode(event);
    return { key, value: wireEncode(bad === 'unknown-schema' ? UNKNOWN_SCHEMA_ID : this.schemaId, body) };
  }

  async run(): Promise<{ sent: number; elapsedMs: number }> {
    const o = this.options;
    if (o.format === 'avro') {
      const schema = { type: 'AVRO' as const, schema: JSON.stringify(featureEventSchema(o.features)), references: [] };
      this.schemaId = await this.schemas.register(schema, subjectName(o.subjectNameStrategy ?? 'topic', o.topic, EVENT_RECORD));
      this.avroType = compileAvro(schema, []);
    }
    const maxBatch = o.maxBatch ?? 500;
    const limit = o.count ?? Number.POSITIVE_INFINITY;
    const start = performance.now();
    const end = o.durationMs === undefined ? Number.POSITIVE_INFINITY : start + o.durationMs;
    let sent = 0;
    let lastProgress = start;
    while (sent < limit && !o.signal?.aborted) {
      const now = performance.now();
      if (now >= end) break;
      const due = o.rate > 0 ? Math.floor(((now - start) / 1000) * o.rate) - sent : maxBatch;
      const n = Math.min(due, maxBatch, limit - sent);
      if (n <= 0) {
        await sleep(Math.max(1, Math.min(10, 1000 / o.rate)));
        continue;
      }
      const records = new Array<OutgoingRecord>(n);
      for (let j = 0; j < n; j++) {
        const { key, value } = this.message(sent + j);
        records[j] = { topic: o.topic, key, value };
      }
      await this.producer.send(records);
      sent += n;
      if (o.onProgress !== undefined && now - lastProgress >= 1000) {
        lastProgress = now;
        o.onProgress(sent, now - start);
      }
    }
    return { sent, elapsedMs: performance.now() - start };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
