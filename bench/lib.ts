import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Consumer } from 'kafkajs';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../src/config/index.js';
import { KafkajsClient } from '../src/kafka/kafkajs/client.js';
import { logistic, mlp } from '../src/modelgen/models.js';
import { registerModel, type ModelStore } from '../src/registry/index.js';

export const repo = fileURLToPath(new URL('..', import.meta.url));

/** The p-th percentile (0-100) of sorted values, by nearest rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(values: number[]): { n: number; p50: number; p99: number; p999: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

/** jemalloc's library where this machine has it (Debian's libjemalloc2; scripts/kafka-native installs it). */
function findJemalloc(): string | undefined {
  const dirs = ['/usr/local/lib', ...(existsSync('/usr/lib') ? readdirSync('/usr/lib').filter((d) => d.endsWith('-linux-gnu')).map((d) => `/usr/lib/${d}`) : [])];
  return dirs.map((d) => `${d}/libjemalloc.so.2`).find((f) => existsSync(f));
}

const jemalloc = findJemalloc();

/**
 * The image's runtime environment (Dockerfile), for the processes a bench measures: libuv's pool of
 * 16 and jemalloc preloaded. Without jemalloc here, glibc's malloc with two arenas, and `allocator`
 * says so in the figures.
 */
export const imageEnv: { env: Record<string, string>; allocator: string } =
  jemalloc === undefined
    ? { env: { UV_THREADPOOL_SIZE: '16', MALLOC_ARENA_MAX: '2' }, allocator: 'glibc malloc with MALLOC_ARENA_MAX=2 (jemalloc is not installed here, unlike in the image: apt-get install libjemalloc2)' }
    : { env: { UV_THREADPOOL_SIZE: '16', LD_PRELOAD: jemalloc }, allocator: 'jemalloc, preloaded as in the image' };

/** What a figure was measured on: machine, date and commit. */
export function provenance(): { date: string; commit: string; cpus: string; cores: number; memoryGiB: number; node: string; allocator: string } {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repo }).toString().trim();
    if (dirty.length > 0) commit += '+changes';
  } catch {
    // not a git checkout
  }
  const c = cpus();
  return {
    date: new Date().toISOString(),
    commit,
    cpus: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    allocator: imageEnv.allocator,
  };
}

/** Writes `docs/<name>.json` and `docs/<name>.md`. */
export function writeReport(name: string, json: object, markdown: string): void {
  mkdirSync(`${repo}/docs`, { recursive: true });
  writeFileSync(`${repo}/docs/${name}.json`, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(`${repo}/docs/${name}.md`, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  process.stderr.write(`wrote docs/${name}.json and docs/${name}.md\n`);
}

export function ms(x: number): string {
  return Number.isFinite(x) ? x.toFixed(1) : '-';
}

/** The part of a kafkajs client the latency probe uses. */
interface ProbeKafka {
  consumer(options: { groupId: string; maxWaitTimeInMs: number }): Consumer;
}

export interface LatencyProbe {
  /** Produce timestamp (ms) of each event, by key. */
  readonly produced: Map<string, number>;
  /** Arrival time (ms) of each prediction, by key. */
  readonly arrived: Map<string, number>;
  /** Arrival time (ms) of each event at the probe, by key: one hop, the floor of two. */
  readonly seen: Map<string, number>;
  /** End-to-end latency of every event with both, with its produce time. */
  latencies(): { produced: number; latency: number }[];
  stop(): Promise<void>;
}

/**
 * A separate consumer of both the events and the predictions: end-to-end latency is a
 * prediction's arrival minus its event's produce timestamp, matched by key. It never commits, so
 * no commit stalls its own fetch loop.
 */
export async function startLatencyProbe(kafka: ProbeKafka, input: string, output: string, groupId: string): Promise<LatencyProbe> {
  const produced = new Map<string, number>();
  const arrived = new Map<string, number>();
  const seen = new Map<string, number>();
  const reader = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await reader.connect();
  await reader.subscribe({ topics: [input, output], fromBeginning: true });
  await reader.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 6,
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const m of batch.messages) {
        const key = m.key!.toString();
        if (batch.topic === input) {
          produced.set(key, Number(m.timestamp));
          seen.set(key, now);
        } else if (!arrived.has(key)) arrived.set(key, now);
      }
    },
  });
  return {
    produced,
    arrived,
    seen,
    latencies: () => {
      const out: { produced: number; latency: number }[] = [];
      for (const [key, at] of arrived) {
        const p = produced.get(key);
        if (p !== undefined) out.push({ produced: p, latency: at - p });
      }
      return out;
    },
    stop: () => reader.disconnect(),
  };
}

/** The benchmarks' own client for loading and reading topics: the kafkajs adapter (its `kafka` too). */
export function benchClient(brokers: readonly string[], log: Logger): KafkajsClient {
  return new KafkajsClient({ client: 'kafkajs', brokers, clientId: 'bench' }, log);
}

export async function ensureTopics(client: KafkajsClient, topics: readonly string[], partitions: number): Promise<void> {
  const admin = await client.admin();
  await admin.ensureTopics(topics, partitions).finally(() => admin.close());
}

/** The environment of a `kscore serve` (or `replay`) child: the connections and names of `config`, no other KSCORE_ setting. */
export function serviceEnv(config: Config, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...(Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KSCORE_'))) as Record<string, string>),
    KAFKA_BROKERS: config.kafkaBrokers.join(','),
    REDIS_URL: config.redisUrl,
    SCHEMA_REGISTRY_URL: config.schemaRegistryUrl,
    KSCORE_FEATURES_TOPIC: config.featuresTopic,
    KSCORE_PREDICTIONS_TOPIC: config.predictionsTopic,
    KSCORE_DEAD_LETTER_TOPIC: config.deadLetterTopic,
    KSCORE_GROUP_ID: config.groupId,
    KSCORE_MODEL_NAME: config.modelName,
    KSCORE_REDIS_KEY_PREFIX: config.redisKeyPrefix,
    KSCORE_HTTP_PORT: '0',
    KSCORE_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/**
 * Two versions of one model on the same 32 features, a logistic regression (version 1, at
 * `production`) and an MLP (version 2), so that each swap loads a really different graph.
 */
export async function registerSwapModels(store: ModelStore, name: string): Promise<{ features: string[] }> {
  const a = logistic(32, 1);
  const b = mlp(32, 64, 2);
  await registerModel(store, name, { bytes: Buffer.from(a.bytes), features: a.features }, { alias: 'production' });
  await registerModel(store, name, { bytes: Buffer.from(b.bytes), features: b.features });
  return { features: a.features };
}

/** The configuration of a bench run: topics, group and model named `<name>` (features), `.out`, `.dlq`; 3 partitions. */
export function benchConfig(name: string): Config {
  return loadConfig(process.env, {
    featuresTopic: name,
    predictionsTopic: `${name}.out`,
    deadLetterTopic: `${name}.dlq`,
    groupId: name,
    modelName: name,
    httpPort: 0,
    topicPartitions: 3,
    logLevel: 'warn',
  });
}
