/**
 * The runs bench/service.ts is made of, each against the local stack: a preloaded topic, the
 * pass-through copy (bench/passthrough.ts), `kscore serve` in a child process drained of a
 * preloaded topic, and end-to-end latency at a fixed rate.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { confluentSchemaSource } from '../src/codec/index.js';
import { loadConfig } from '../src/config/index.js';
import type { KafkaClientName } from '../src/kafka/index.js';
import type { BuiltModel } from '../src/modelgen/models.js';
import { LoadGenerator } from '../src/producer/load-generator.js';
import { connectRedis, modelStoreFor, registerModel } from '../src/registry/index.js';
import { benchClient, ensureTopics, imageEnv, repo, startLatencyProbe, summarize } from './lib.js';

export const PARTITIONS = 3;
const log = pino({ level: 'warn' });
export const base = loadConfig(process.env, { logLevel: 'warn' });
export const kafka = benchClient(base.kafkaBrokers, log);
const schemas = confluentSchemaSource(base);
export const run = randomUUID().slice(0, 6);
export const topics: string[] = [];

export function topic(name: string): string {
  const t = `bench-${run}-${name}`;
  topics.push(t);
  return t;
}

export function sleep(msec: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msec));
}

export async function preload(name: string, format: 'json' | 'avro', features: readonly string[], count: number): Promise<string> {
  const t = topic(name);
  await ensureTopics(kafka, [t], PARTITIONS);
  const producer = await kafka.producer({ idempotent: false });
  await new LoadGenerator(producer, schemas, { topic: t, rate: 0, count, format, features, maxBatch: 2000 }).run();
  await producer.close();
  return t;
}

export interface Drained {
  eventsPerSecond: number;
  seconds: number;
  /** CPU time of the copying process's main thread per event, µs (NaN where /proc is not there). */
  mainThreadMicros: number;
}

const TICKS_PER_SECOND = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (µs) a process's main thread has used so far, from Linux's /proc; NaN elsewhere. */
function mainThreadCpu(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/**
 * Polls the output topic until it holds `count` records; events/s between the first and the last,
 * and, given the copying process, its main thread's CPU per event meanwhile.
 */
export async function drain(output: string, count: number, pid?: number): Promise<Drained> {
  const admin = await kafka.admin();
  try {
    let first: number | undefined;
    let firstCount = 0;
    let firstCpu = Number.NaN;
    const deadline = Date.now() + 600_000;
    for (;;) {
      const have = (await admin.watermarks(output)).reduce((sum, p) => sum + p.high, 0);
      const now = performance.now();
      if (have > 0 && first === undefined) {
        first = now;
        firstCount = have;
        firstCpu = mainThreadCpu(pid);
      }
      if (have >= count) {
        const seconds = (now - first!) / 1000;
        return { eventsPerSecond: (have - firstCount) / seconds, seconds, mainThreadMicros: (mainThreadCpu(pid) - firstCpu) / (have - firstCount) };
      }
      if (Date.now() > deadline) throw new Error(`only ${have} of ${count} records reached ${output}`);
      await sleep(20);
    }
  } finally {
    await admin.close();
  }
}

function child(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KSCORE_'))) as Record<string, string>;
  return spawn(command, args, { env: { ...clean, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

export async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  p.kill('SIGTERM');
  await new Promise((r) => p.once('exit', r));
}

/** The pass-through copy of a preloaded topic through the service's own consumer and producer (`client`). */
export async function passThrough(client: KafkaClientName, input: string, name: string, count: number, nodeArgs: string[] = []): Promise<Drained> {
  const p = await spawnPassThrough(client, input, name, nodeArgs);
  try {
    return await drain(p.output, count, p.proc.pid);
  } finally {
    await stop(p.proc);
  }
}

/** bench/passthrough.ts on `client`, copying `input` to a new topic, in group `bench-<run>-<name>`. */
async function spawnPassThrough(client: KafkaClientName, input: string, name: string, nodeArgs: string[] = []): Promise<{ proc: ChildProcess; output: string; group: string }> {
  const output = topic(`${name}-out`);
  await ensureTopics(kafka, [output], PARTITIONS);
  const group = `bench-${run}-${name}`;
  // The same runtime environment as the service's, so the two compare like for like.
  const proc = child(process.execPath, [...nodeArgs, '--import', 'tsx', `${repo}/bench/passthrough.ts`, base.kafkaBrokers.join(','), input, output, group], { KSCORE_KAFKA_CLIENT: client, ...imageEnv.env });
  return { proc, output, group };
}

/** The Python with confluent-kafka from PyPI (its wheel bundles librdkafka), made once by scripts/python-env. */
const python = ((): string | undefined => {
  try {
    return `${execFileSync(`${repo}/scripts/python-env`, [`${repo}/bench/requirements.txt`], { encoding: 'utf8' }).trim()}/bin/python`;
  } catch {
    return undefined;
  }
})();

/** The ceiling: a pass-through copy in C (librdkafka through Python's confluent-kafka). */
export async function ceiling(input: string, name: string, count: number): Promise<Drained | undefined> {
  if (python === undefined) return undefined;
  const out = topic(`${name}-out`);
  await ensureTopics(kafka, [out], PARTITIONS);
  const p = child(python, [`${repo}/bench/passthrough.py`, base.kafkaBrokers.join(','), input, out, `bench-${run}-${name}`]);
  try {
    return await drain(out, count);
  } finally {
    await stop(p);
  }
}

export interface ServiceRun {
  proc: ChildProcess;
  port: number;
  output: string;
}

let portSeed = 28_000 + Math.floor(Math.random() * 1000);

/** `kscore serve` on `input` with the model registered as `modelName`, on `client`, with extra settings. */
export async function startService(input: string, modelName: string, name: string, client: KafkaClientName, format: 'json' | 'avro', env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<ServiceRun> {
  const output = topic(`${name}-out`);
  await ensureTopics(kafka, [output, `${output}.dlq`], PARTITIONS);
  topics.push(`${output}.dlq`);
  const port = portSeed++;
  const proc = child(process.execPath, [...nodeArgs, `${repo}/bin/kscore.js`, 'serve'], {
    KAFKA_BROKERS: base.kafkaBrokers.join(','),
    REDIS_URL: base.redisUrl,
    SCHEMA_REGISTRY_URL: base.schemaRegistryUrl,
    KSCORE_KAFKA_CLIENT: client,
    KSCORE_FEATURES_TOPIC: input,
    KSCORE_PREDICTIONS_TOPIC: output,
    KSCORE_DEAD_LETTER_TOPIC: `${output}.dlq`,
    KSCORE_GROUP_ID: `bench-${run}-${name}`,
    KSCORE_TRANSACTIONAL_ID: `bench-${run}-${name}`,
    KSCORE_MODEL_NAME: modelName,
    KSCORE_SHADOW_ALIAS: '',
    KSCORE_INPUT_FORMAT: format,
    KSCORE_OUTPUT_FORMAT: format,
    KSCORE_HTTP_PORT: String(port),
    KSCORE_LOG_LEVEL: 'warn',
    // The image's runtime environment (Dockerfile), so the figures are of what ships.
    ...imageEnv.env,
    ...env,
  });
  return { proc, port, output };
}

export async function waitReady(port: number): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`service on ${port} not ready`);
}

export interface Memory {
  rssMiB: number;
  /** V8's heap (total, used or not). */
  heapMiB: number;
  /** Memory outside V8's heap that JS objects hold (Buffers). */
  externalMiB: number;
}

/** The service's memory, from its /metrics. */
export async function memory(port: number): Promise<Memory> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const mib = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN) / 2 ** 20;
  return { rssMiB: mib('process_resident_memory_bytes'), heapMiB: mib('nodejs_heap_size_total_bytes'), externalMiB: mib('nodejs_external_memory_bytes') };
}

/** Drains a preloaded topic through the service: events/s, and the service's memory at the end. */
export async function serviceThroughput(input: string, modelName: string, name: string, client: KafkaClientName, format: 'json' | 'avro', count: number, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Drained & Memory> {
  const svc = await startService(input, modelName, name, client, format, env, nodeArgs);
  try {
    const r = await drain(svc.output, count, svc.proc.pid);
    return { ...r, ...(await memory(svc.port)) };
  } finally {
    await stop(svc.proc);
  }
}

/**
 * `kscore replay` of the whole of `input` with `modelName` (its production alias) on `client`
 * into a fresh topic: events/s from the first output record to the last, and the share of the
 * machine's CPU busy meanwhile (all processes, Kafka's too).
 */
export async function replayThroughput(input: string, modelName: string, name: string, client: KafkaClientName, count: number, args: string[] = []): Promise<Drained & { machineBusy: number }> {
  const output = topic(`${name}-out`);
  await ensureTopics(kafka, [output, `${output}.dlq`], PARTITIONS);
  topics.push(`${output}.dlq`);
  const proc = child(process.execPath, [`${repo}/bin/kscore.js`, 'replay', '--output-topic', output, '--dead-letter-topic', `${output}.dlq`, ...args], {
    KAFKA_BROKERS: base.kafkaBrokers.join(','),
    REDIS_URL: base.redisUrl,
    SCHEMA_REGISTRY_URL: base.schemaRegistryUrl,
    KSCORE_KAFKA_CLIENT: client,
    KSCORE_FEATURES_TOPIC: input,
    KSCORE_MODEL_NAME: modelName,
    KSCORE_HTTP_PORT: '0',
    KSCORE_LOG_LEVEL: 'warn',
    ...imageEnv.env,
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', r));
  try {
    const before = cpuTimes();
    const r = await Promise.race([drain(output, count), exited.then((code) => Promise.reject(new Error(`replay of ${input} ended (exit ${code}) before ${count} records`)))]);
    const after = cpuTimes();
    const code = await exited;
    if (code !== 0) throw new Error(`replay of ${input} exited with ${code}`);
    return { ...r, machineBusy: (after.busy - before.busy) / Math.max(1, after.total - before.total) };
  } finally {
    await stop(proc);
  }
}

/** All CPUs, from /proc/stat: busy is everything but idle and iowait. */
function cpuTimes(): { busy: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((sum, x) => sum + x, 0);
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

export async function register(model: BuiltModel, name: string): Promise<string> {
  const modelName = `bench-${run}-${name}`;
  const redis = connectRedis(base, log);
  await redis.connect();
  await registerModel(modelStoreFor(redis, base), modelName, { bytes: Buffer.from(model.bytes), features: model.features }, { alias: 'production' });
  await redis.quit();
  return modelName;
}

export interface Latency extends ReturnType<typeof summarize> {
  /** The same events' one hop, produce to the probe's read of the event (the floor of the two hops measured). */
  hop: ReturnType<typeof summarize>;
  rssMiB: number;
  /** The rate the load reached (it aims at the nominal one). */
  sentPerSecond: number;
}

/** The pass-through copy (bench/passthrough.ts) on `client`, once its group has its partitions. */
async function startPassThrough(client: KafkaClientName, input: string, name: string): Promise<ServiceRun> {
  const { proc, output, group } = await spawnPassThrough(client, input, name);
  const admin = kafka.kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const [g] = (await admin.describeGroups([group])).groups;
      if (g?.state === 'Stable' && g.members.length > 0) break;
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`the pass-through of ${input} did not join its group`);
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
  return { proc, port: 0, output };
}

/**
 * Streams at `rate` for `seconds` into `kscore serve` with `modelName`, or, without one, into the
 * pass-through copy (the baseline: the same client's two hops with no work between them); latency
 * from an event's produce time to its output's arrival, the one hop to the event's own arrival, and
 * the service's RSS.
 */
export async function latencyAt(client: KafkaClientName, rate: number, seconds: number, features: readonly string[], modelName?: string): Promise<Latency> {
  const name = `lat-${modelName === undefined ? 'pass' : 'svc'}-${client}-${rate}`;
  const input = topic(name);
  await ensureTopics(kafka, [input], PARTITIONS);
  const svc = modelName === undefined ? await startPassThrough(client, input, name) : await startService(input, modelName, name, client, 'json');
  try {
    if (modelName !== undefined) await waitReady(svc.port);
    const probe = await startLatencyProbe(kafka.kafka, input, svc.output, `bench-${run}-reader-${name}`);
    await sleep(2000);
    const producer = await kafka.producer({ idempotent: false });
    // Up to 10 ms of events per send: one awaited send at a time must keep up with the rate.
    const { sent, elapsedMs } = await new LoadGenerator(producer, schemas, {
      topic: input, rate, durationMs: seconds * 1000, format: 'json', features, maxBatch: Math.max(1, Math.ceil(rate / 100)),
    }).run();
    await producer.close();
    const deadline = Date.now() + 60_000;
    while ((probe.arrived.size < sent || probe.produced.size < sent) && Date.now() < deadline) await sleep(100);
    const mem = modelName === undefined ? Number.NaN : (await memory(svc.port)).rssMiB;
    await probe.stop();
    // Leave out the first 2 s (connections warming up).
    const warm = Math.min(sent, rate * 2);
    const latencies: number[] = [];
    const hops: number[] = [];
    for (let i = warm; i < sent; i++) {
      const key = `k${i}`;
      const a = probe.arrived.get(key);
      const p = probe.produced.get(key);
      const s = probe.seen.get(key);
      if (a !== undefined && p !== undefined) latencies.push(a - p);
      if (s !== undefined && p !== undefined) hops.push(s - p);
    }
    return { ...summarize(latencies), hop: summarize(hops), rssMiB: mem, sentPerSecond: sent / (elapsedMs / 1000) };
  } finally {
    await stop(svc.proc);
  }
}

/** Runs a bench's `main`: an error is printed and sets a failing exit code; the bench's topics are deleted either way. */
export function runBench(name: string, main: () => Promise<void>): void {
  main()
    .catch((err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(async () => {
      const admin = await kafka.admin();
      await admin.deleteTopics(topics).catch(() => undefined);
      await admin.close();
      process.exit();
    });
}
