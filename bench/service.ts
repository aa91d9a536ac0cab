/**
 * The whole service, measured in one run against the local stack:
 *
 *   scripts/stack up && npm run bench
 *
 * 1. throughput: N events preloaded into a topic are drained by a fresh consumer group, by the
 *    pass-through baseline (bench/passthrough.ts: same client, consume and produce, no decoding or
 *    scoring) and by `kscore serve` with a small model (logistic, 32 features) and a heavy one
 *    (tree ensemble, 300 trees of depth 6), on JSON and on Avro events;
 * 2. end-to-end latency (p50, p99, p99.9) at fixed rates: 1,000 and 5,000 events/s and half the
 *    highest throughput, taken by a separate consumer: the prediction's arrival minus the event's
 *    produce timestamp;
 * 3. the service's resident memory.
 * Writes docs/bench-service.{json,md} with the machine, the date and the commit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Partitioners, type Kafka } from 'kafkajs';
import { pino } from 'pino';
import { confluentSchemaSource } from '../src/codec/index.js';
import { loadConfig } from '../src/config/index.js';
import { createKafka, ensureTopics } from '../src/kafka/client.js';
import { logistic, treeEnsemble, type BuiltModel } from '../src/modelgen/models.js';
import { LoadGenerator } from '../src/producer/load-generator.js';
import { connectRedis, RedisModelStore, registerModel } from '../src/registry/index.js';
import { ms, provenance, repo, startLatencyProbe, summarize, writeReport } from './lib.js';

const N = Number(process.env['BENCH_EVENTS'] ?? 60_000);
const LATENCY_SECONDS = Number(process.env['BENCH_LATENCY_SECONDS'] ?? 15);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const PARTITIONS = 3;
const log = pino({ level: 'warn' });
const base = loadConfig(process.env, { logLevel: 'warn' });
const kafka = createKafka({ brokers: base.kafkaBrokers, clientId: 'bench', logger: log });
const schemas = confluentSchemaSource(base.schemaRegistryUrl);
const run = randomUUID().slice(0, 6);
const topics: string[] = [];

function topic(name: string): string {
  const t = `bench-${run}-${name}`;
  topics.push(t);
  return t;
}

function sleep(msec: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msec));
}

async function preload(name: string, format: 'json' | 'avro', features: readonly string[]): Promise<string> {
  const t = topic(name);
  await ensureTopics(kafka, [t], PARTITIONS);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await new LoadGenerator(producer, schemas, { topic: t, rate: 0, count: N, format, features, maxBatch: 2000 }).run();
  await producer.disconnect();
  return t;
}

/** Polls the output topic until it holds `count` records; events/s between the first and the last. */
async function drain(output: string, count: number): Promise<{ eventsPerSecond: number; seconds: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let first: number | undefined;
    let firstCount = 0;
    const deadline = Date.now() + 600_000;
    for (;;) {
      const have = (await admin.fetchTopicOffsets(output)).reduce((sum, p) => sum + Number(p.high), 0);
      const now = performance.now();
      if (have > 0 && first === undefined) {
        first = now;
        firstCount = have;
      }
      if (have >= count) {
        const seconds = (now - first!) / 1000;
        return { eventsPerSecond: (have - firstCount) / seconds, seconds };
      }
      if (Date.now() > deadline) throw new Error(`only ${have} of ${count} records reached ${output}`);
      await sleep(50);
    }
  } finally {
    await admin.disconnect();
  }
}

function child(args: string[], env: Record<string, string> = {}): ChildProcess {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KSCORE_'))) as Record<string, string>;
  return spawn(process.execPath, args, { env: { ...clean, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  p.kill('SIGTERM');
  await new Promise((r) => p.once('exit', r));
}

interface ServiceRun {
  proc: ChildProcess;
  port: number;
  output: string;
}

let portSeed = 28_000 + Math.floor(Math.random() * 1000);

async function startService(input: string, modelName: string, name: string, format: 'json' | 'avro' = 'json'): Promise<ServiceRun> {
  const output = topic(`${name}-out`);
  await ensureTopics(kafka, [output, `${output}.dlq`], PARTITIONS);
  const port = portSeed++;
  const proc = child([`${repo}/bin/kscore.js`, 'serve'], {
    KAFKA_BROKERS: base.kafkaBrokers.join(','),
    REDIS_URL: base.redisUrl,
    SCHEMA_REGISTRY_URL: base.schemaRegistryUrl,
    KSCORE_FEATURES_TOPIC: input,
    KSCORE_PREDICTIONS_TOPIC: output,
    KSCORE_DEAD_LETTER_TOPIC: `${output}.dlq`,
    KSCORE_GROUP_ID: `bench-${run}-${name}`,
    KSCORE_MODEL_NAME: modelName,
    KSCORE_SHADOW_ALIAS: '',
    KSCORE_INPUT_FORMAT: format,
    KSCORE_OUTPUT_FORMAT: format,
    KSCORE_HTTP_PORT: String(port),
    KSCORE_LOG_LEVEL: 'warn',
  });
  return { proc, port, output };
}

async function rss(port: number): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  return Number(/^kscore_process_resident_memory_bytes (\S+)$/m.exec(text)?.[1] ?? Number.NaN) / 2 ** 20;
}

async function register(model: BuiltModel, name: string): Promise<string> {
  const modelName = `bench-${run}-${name}`;
  const redis = connectRedis(base.redisUrl, log);
  await redis.connect();
  await registerModel(new RedisModelStore(redis, base.redisKeyPrefix), modelName, { bytes: Buffer.from(model.bytes), features: model.features }, { alias: 'production' });
  await redis.quit();
  return modelName;
}

/** Streams at `rate` for LATENCY_SECONDS into a running service; latency from produce to prediction. */
async function latencyAt(rate: number, modelName: string, features: readonly string[]): Promise<ReturnType<typeof summarize>> {
  const input = topic(`lat${rate}`);
  await ensureTopics(kafka, [input], PARTITIONS);
  const svc = await startService(input, modelName, `lat${rate}`);
  await waitReady(svc.port);
  const probe = await startLatencyProbe(kafka, input, svc.output, `bench-${run}-reader${rate}`);
  await sleep(2000);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const { sent } = await new LoadGenerator(producer, schemas, {
    topic: input, rate, durationMs: LATENCY_SECONDS * 1000, format: 'json', features, maxBatch: Math.max(1, Math.ceil(rate / 500)),
  }).run();
  await producer.disconnect();
  const deadline = Date.now() + 60_000;
  while ((probe.arrived.size < sent || probe.produced.size < sent) && Date.now() < deadline) await sleep(100);
  await probe.stop();
  await stop(svc.proc);
  // Leave out the first 2 s (connections warming up).
  const warm = Math.min(sent, rate * 2);
  const latencies: number[] = [];
  for (let i = warm; i < sent; i++) {
    const a = probe.arrived.get(`k${i}`);
    const p = probe.produced.get(`k${i}`);
    if (a !== undefined && p !== undefined) latencies.push(a - p);
  }
  return summarize(latencies);
}

async function waitReady(port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`service on ${port} not ready`);
}

/** What profiles of this machine showed when the targets were missed (docs/replay.md has the figures). */
const WHY_MISSED = `
## Why a target is missed

- **Throughput.** Everything shares two cores with the broker, and the service is CPU-bound. Most of
  the gap to the pass-through copy is kafkajs' produce path for the five headers every prediction
  carries: a prediction record costs about 12 µs to produce with them against about 3 µs without
  (measured for replay, docs/bench-replay.md). Giving kafkajs' header and record encoders
  right-sized buffers instead of 512-byte ones was tried and made no measurable difference, so the
  cost is in its per-header encoding path as a whole. JSON.parse of a 32-feature event adds about
  5 µs. Scoring itself is under 1 µs an event at these batch sizes. On Avro the gap is wider because
  the pass-through copy of small Avro values is so cheap. Closing it would take fewer (combined)
  source headers or another Kafka client.
- **p99 latency at 1,000 events/s.** The median is a few milliseconds; the tail comes from work that
  stalls the kafkajs fetch loop for ~10 ms at a time: its synchronous group heartbeat (Kafka 4's group
  coordinator answers after its append linger) and garbage collection. Offset commits were taken off
  that loop (KSCORE_COMMIT_INTERVAL_MS), which brought the median from ~17 ms to a few ms.
`;

async function main(): Promise<void> {
  const small = logistic(32, 1);
  const heavy = treeEnsemble(32, 300, 6, 2);
  const smallName = await register(small, 'logistic');
  const heavyName = await register(heavy, 'trees');
  process.stderr.write(`bench: preloading ${N} JSON and ${N} Avro events\n`);
  const jsonTopic = await preload('json', 'json', small.features);
  const avroTopic = await preload('avro', 'avro', small.features);

  const throughput: { name: string; format: string; eventsPerSecond: number; seconds: number; rounds: number[]; rssMiB?: number }[] = [];
  // Rounds alternate the runs, and the median of each is reported: single runs on a shared 2-core
  // machine vary by tens of percent.
  const rounds: Record<string, { name: string; format: 'json' | 'avro'; eventsPerSecond: number[]; seconds: number[]; rssMiB: number[] }> = {};
  const record = (name: string, format: 'json' | 'avro', r: { eventsPerSecond: number; seconds: number }, mem?: number): void => {
    const key = `${name}/${format}`;
    const entry = (rounds[key] ??= { name, format, eventsPerSecond: [], seconds: [], rssMiB: [] });
    entry.eventsPerSecond.push(r.eventsPerSecond);
    entry.seconds.push(r.seconds);
    if (mem !== undefined) entry.rssMiB.push(mem);
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [format, input] of [['json', jsonTopic], ['avro', avroTopic]] as const) {
      const out = topic(`pass-${format}-${round}`);
      await ensureTopics(kafka, [out], PARTITIONS);
      const p = child(['--import', 'tsx', `${repo}/bench/passthrough.ts`, base.kafkaBrokers.join(','), input, out, `bench-${run}-pass-${format}-${round}`]);
      const r = await drain(out, N);
      await stop(p);
      record('pass-through baseline', format, r);
      process.stderr.write(`bench: round ${round + 1}: pass-through ${format}: ${Math.round(r.eventsPerSecond)} events/s\n`);
      for (const [label, modelName] of [['logistic, 32 features', smallName], ['300 trees of depth 6', heavyName]] as const) {
        const svc = await startService(input, modelName, `${format}-${modelName.slice(-6)}-${round}`, format);
        const sr = await drain(svc.output, N);
        const mem = await rss(svc.port);
        await stop(svc.proc);
        record(`service, ${label}`, format, sr, mem);
        process.stderr.write(`bench: round ${round + 1}: service ${label} ${format}: ${Math.round(sr.eventsPerSecond)} events/s, ${mem.toFixed(0)} MiB\n`);
      }
    }
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  for (const e of Object.values(rounds)) {
    throughput.push({
      name: e.name,
      format: e.format,
      eventsPerSecond: median(e.eventsPerSecond),
      seconds: median(e.seconds),
      rounds: e.eventsPerSecond.map(Math.round),
      ...(e.rssMiB.length > 0 ? { rssMiB: Math.max(...e.rssMiB) } : {}),
    });
  }

  const baseline = throughput.find((t) => t.name.startsWith('pass') && t.format === 'json')!.eventsPerSecond;
  const bestJson = throughput.find((t) => t.name.startsWith('service, logistic') && t.format === 'json')!.eventsPerSecond;
  const rates = [1000, 5000, Math.round(bestJson / 2 / 100) * 100];
  const latency: { rate: number; p50: number; p99: number; p999: number; n: number }[] = [];
  for (const rate of rates) {
    const l = await latencyAt(rate, smallName, small.features);
    latency.push({ rate, ...l });
    process.stderr.write(`bench: latency at ${rate}/s: p50 ${l.p50} ms, p99 ${l.p99} ms\n`);
  }

  const ratio = bestJson / baseline;
  const p99At1000 = latency[0]!.p99;
  const result = {
    ...provenance(),
    events: N,
    partitions: PARTITIONS,
    throughput,
    latency,
    targets: {
      onlineVsPassThrough: { value: ratio, target: 0.9, met: ratio >= 0.9 },
      p99At1000Ms: { value: p99At1000, target: 10, met: p99At1000 < 10 },
    },
  };
  const rows = throughput
    .map((t) => `| ${t.name} | ${t.format} | ${Math.round(t.eventsPerSecond).toLocaleString('en')} | ${(t.eventsPerSecond / throughput.find((b) => b.name.startsWith('pass') && b.format === t.format)!.eventsPerSecond).toFixed(2)} | ${t.rounds.map((x) => x.toLocaleString('en')).join(', ')} | ${t.rssMiB === undefined ? '' : t.rssMiB.toFixed(0)} |`)
    .join('\n');
  const lat = latency.map((l) => `| ${l.rate.toLocaleString('en')} | ${l.n} | ${ms(l.p50)} | ${ms(l.p99)} | ${ms(l.p999)} |`).join('\n');
  const md = `# Service benchmark

Command: \`scripts/stack up && npm run bench\` (${result.date}, commit ${result.commit}, ${result.cores} × ${result.cpus}, ${result.memoryGiB} GiB, Node ${result.node}).
Everything runs on this one machine: Kafka, the schema registry, Redis, the service and the load.

## Throughput

${N.toLocaleString('en')} events (32 features) preloaded on ${PARTITIONS} partitions, drained by a fresh consumer group; events/s
from the first output record to the last; ${ROUNDS} rounds, alternating the runs, median reported. On Avro runs the service reads Avro and writes Avro predictions;
each prediction carries five headers (model, version, source topic, partition, offset), which the
pass-through copy does not.

| run | events | events/s (median) | vs pass-through | every round | service RSS MiB (max) |
| --- | --- | ---: | ---: | ---: | ---: |
${rows}

## End-to-end latency

\`kscore serve\` with the logistic model on JSON events at a fixed rate for ${LATENCY_SECONDS} s; a separate consumer
takes each prediction's arrival time minus its event's produce timestamp (first 2 s left out).

| events/s | events | p50 ms | p99 ms | p99.9 ms |
| --- | ---: | ---: | ---: | ---: |
${lat}

## Targets

| target | measured | met |
| --- | ---: | --- |
| online throughput ≥ 0.9 × pass-through (logistic, JSON) | ${ratio.toFixed(2)} | ${ratio >= 0.9 ? 'yes' : '**no**'} |
| p99 at 1,000 events/s < 10 ms | ${ms(p99At1000)} ms | ${p99At1000 < 10 ? 'yes' : '**no**'} |
${ratio >= 0.9 && p99At1000 < 10 ? '' : WHY_MISSED}`;
  writeReport('bench-service', result, md);
  process.stdout.write(md);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });
