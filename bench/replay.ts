/**
 * Replay throughput against the online path, on the same machine and the same data, in one run.
 *
 *   scripts/stack up && npm run bench:replay
 *
 * N JSON events (32 features) are written once to a 3-partition topic. Then, for a light model
 * (logistic regression) and a heavy one (300 trees of depth 6), alternately, a few rounds of:
 *   - online: `kscore serve` with a fresh consumer group drains the topic (default settings);
 *   - replay: `kscore replay` of the whole topic to a fresh topic (default settings).
 * Throughput is events/s from the first output record to the last (as bench/service.ts counts
 * it), read by polling the output topic's end offsets; the wall time from starting the process to
 * the last record is given too. Writes docs/bench-replay.{json,md}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Partitioners, type Admin } from 'kafkajs';
import { pino } from 'pino';
import { confluentSchemaSource } from '../src/codec/index.js';
import { loadConfig } from '../src/config/index.js';
import { logistic, treeEnsemble } from '../src/modelgen/models.js';
import { LoadGenerator } from '../src/producer/load-generator.js';
import { connectRedis, RedisModelStore, registerModel } from '../src/registry/index.js';
import { benchClient, ensureTopics, provenance, repo, writeReport } from './lib.js';

const N = Number(process.env['BENCH_EVENTS'] ?? 200_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const TARGET = 3;

interface Measured {
  eventsPerSecond: number;
  wallSeconds: number;
  /** Share of the machine's CPU time busy (all processes: Kafka included) from first to last record. */
  machineBusy: number;
}

const MODELS = [
  { alias: 'light', label: 'logistic regression, 32 features', build: () => logistic(32, 1) },
  { alias: 'heavy', label: '300 trees of depth 6, 32 features', build: () => treeEnsemble(32, 300, 6, 2) },
] as const;

async function main(): Promise<void> {
  const id = randomUUID().slice(0, 8);
  const log = pino({ level: 'warn' });
  const config = loadConfig(process.env, {
    featuresTopic: `bench-replay-${id}`,
    modelName: `bench-replay-${id}`,
    redisKeyPrefix: `bench-replay-${id}:`,
    logLevel: 'warn',
  });
  const redis = connectRedis(config, log);
  await redis.connect();
  const store = new RedisModelStore(redis, config.redisKeyPrefix);
  for (const m of MODELS) {
    const built = m.build();
    await registerModel(store, config.modelName, { bytes: Buffer.from(built.bytes), features: built.features }, { alias: m.alias });
  }
  const kafka = benchClient(config.kafkaBrokers, log);
  await ensureTopics(kafka, [config.featuresTopic], 3);
  const producer = await kafka.producer({ idempotent: false });
  process.stderr.write(`writing ${N} events to ${config.featuresTopic}\n`);
  await new LoadGenerator(producer, confluentSchemaSource(config), {
    topic: config.featuresTopic,
    rate: 0,
    count: N,
    format: 'json',
    features: logistic(32, 1).features,
    maxBatch: 1000,
  }).run();
  await producer.close();
  const admin = kafka.kafka.admin();
  await admin.connect();

  const env: Record<string, string> = {
    ...(Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KSCORE_'))) as Record<string, string>),
    KAFKA_BROKERS: config.kafkaBrokers.join(','),
    REDIS_URL: config.redisUrl,
    SCHEMA_REGISTRY_URL: config.schemaRegistryUrl,
    KSCORE_FEATURES_TOPIC: config.featuresTopic,
    KSCORE_MODEL_NAME: config.modelName,
    KSCORE_REDIS_KEY_PREFIX: config.redisKeyPrefix,
    KSCORE_HTTP_PORT: '0',
    KSCORE_LOG_LEVEL: 'warn',
  };
  const created: string[] = [];
  const fresh = async (name: string): Promise<string> => {
    const topic = `bench-replay-${id}-${name}`;
    await ensureTopics(kafka, [topic], 3);
    created.push(topic);
    return topic;
  };

  const online = async (alias: string, run: string): Promise<Measured> => {
    const out = await fresh(`${run}-online`);
    const dlq = await fresh(`${run}-online-dlq`);
    const child = start(['serve'], { ...env, KSCORE_MODEL_ALIAS: alias, KSCORE_GROUP_ID: `bench-replay-${id}-${run}`, KSCORE_PREDICTIONS_TOPIC: out, KSCORE_DEAD_LETTER_TOPIC: dlq });
    const m = await watch(admin, out, child);
    child.kill('SIGTERM');
    await exited(child);
    // The service creates the shadow topic of its predictions topic too.
    created.push(`${out}.shadow`);
    return m;
  };
  const replay = async (alias: string, run: string, extra: string[] = []): Promise<Measured> => {
    const out = await fresh(`${run}-replay`);
    const dlq = await fresh(`${run}-replay-dlq`);
    const child = start(['replay', '--alias', alias, '--output-topic', out, '--dead-letter-topic', dlq, ...extra], env);
    const m = await watch(admin, out, child);
    const code = await exited(child);
    if (code !== 0) throw new Error(`replay exited with ${code}`);
    return m;
  };

  const results: Record<string, { online: Measured[]; replay: Measured[]; replayOneThread: Measured | undefined }> = {};
  for (const m of MODELS) results[m.alias] = { online: [], replay: [], replayOneThread: undefined };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const m of MODELS) {
      const r = results[m.alias]!;
      r.online.push(await online(m.alias, `${m.alias}-${round}`));
      r.replay.push(await replay(m.alias, `${m.alias}-${round}`));
      process.stderr.write(`round ${round} ${m.alias}: online ${fmt(r.online.at(-1)!.eventsPerSecond)}/s, replay ${fmt(r.replay.at(-1)!.eventsPerSecond)}/s\n`);
    }
  }
  for (const m of MODELS) results[m.alias]!.replayOneThread = await replay(m.alias, `${m.alias}-t1`, ['--threads', '1']);

  const encoding = kafkajsRecordCost();
  const rows = MODELS.map((m) => {
    const r = results[m.alias]!;
    const on = median(r.online.map((x) => x.eventsPerSecond));
    const re = median(r.replay.map((x) => x.eventsPerSecond));
    return {
      model: m.label,
      onlineEventsPerSecond: on,
      replayEventsPerSecond: re,
      ratio: re / on,
      onlineWallSeconds: median(r.online.map((x) => x.wallSeconds)),
      replayWallSeconds: median(r.replay.map((x) => x.wallSeconds)),
      wallRatio: median(r.online.map((x) => x.wallSeconds)) / median(r.replay.map((x) => x.wallSeconds)),
      onlineMachineBusy: median(r.online.map((x) => x.machineBusy)),
      replayMachineBusy: median(r.replay.map((x) => x.machineBusy)),
      replayOneThreadEventsPerSecond: r.replayOneThread!.eventsPerSecond,
      rounds: r,
    };
  });
  const met = rows.every((r) => r.ratio >= TARGET);
  const result = { ...provenance(), events: N, rounds: ROUNDS, partitions: 3, target: TARGET, met, models: rows, kafkajsRecordEncoding: encoding };
  const md = report(result, rows, met, encoding);
  writeReport('bench-replay', result, md);
  process.stdout.write(md);

  await admin.deleteTopics({ topics: [config.featuresTopic, ...created] }).catch(() => undefined);
  await admin.disconnect();
  await redis.quit();
}

function start(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [`${repo}/bin/kscore.js`, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Polls the output's end offsets until it holds N records. */
async function watch(admin: Admin, topic: string, child: ChildProcess): Promise<Measured> {
  const t0 = performance.now();
  let first: { t: number; n: number; cpu: CpuTimes } | undefined;
  for (;;) {
    const n = (await admin.fetchTopicOffsets(topic)).reduce((s, o) => s + Number(o.high), 0);
    const t = performance.now();
    if (n > 0 && first === undefined) first = { t, n, cpu: cpuTimes() };
    if (n >= N) {
      const cpu = cpuTimes();
      const f = first!;
      const seconds = (t - f.t) / 1000;
      return {
        eventsPerSecond: seconds > 0 ? (N - f.n) / seconds : Number.NaN,
        wallSeconds: (t - t0) / 1000,
        machineBusy: (cpu.busy - f.cpu.busy) / Math.max(1, cpu.total - f.cpu.total),
      };
    }
    if (child.exitCode !== null && n < N) throw new Error(`the process ended with ${child.exitCode} after ${n} of ${N} records`);
    if (t - t0 > 300_000) throw new Error(`timed out at ${n} of ${N} records`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface CpuTimes {
  busy: number;
  total: number;
}

/** All CPUs, from /proc/stat: busy is everything but idle and iowait. */
function cpuTimes(): CpuTimes {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((s, x) => s + x, 0);
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/**
 * What kafkajs spends encoding one prediction record (its produce path, single thread), with the
 * five kscore headers and without: the per-record cost the online path and replay both pay.
 */
function kafkajsRecordCost(): { withHeadersUs: number; withoutHeadersUs: number } | undefined {
  try {
    const require = createRequire(import.meta.url);
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: object) => { size(): number };
    const n = 50_000;
    const value = JSON.stringify({ model: 'demo', version: '1', score: 0.123456789, label: null, probabilities: null });
    const time = (headers: (i: number) => object): number => {
      const t0 = process.hrtime.bigint();
      let bytes = 0;
      for (let i = 0; i < n; i++) bytes += Record({ offsetDelta: i, timestampDelta: 0, key: `k${i}`, value, headers: headers(i) }).size();
      if (bytes === 0) throw new Error('nothing encoded');
      return Number(process.hrtime.bigint() - t0) / 1e3 / n;
    };
    // As the pipeline passes them: the batch-wide values as buffers made once, the offset as a string.
    const shared = { model: Buffer.from('demo'), version: Buffer.from('1'), topic: Buffer.from('features'), partition: Buffer.from('1') };
    const kscore = (i: number): object => ({
      'kscore-model': shared.model,
      'kscore-model-version': shared.version,
      'kscore-source-topic': shared.topic,
      'kscore-source-partition': shared.partition,
      'kscore-source-offset': String(100_000 + i),
    });
    time(kscore); // warm-up
    return { withHeadersUs: time(kscore), withoutHeadersUs: time(() => ({})) };
  } catch {
    return undefined;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function fmt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

function report(
  result: ReturnType<typeof provenance> & { events: number; rounds: number },
  rows: {
    model: string;
    onlineEventsPerSecond: number;
    replayEventsPerSecond: number;
    ratio: number;
    onlineWallSeconds: number;
    replayWallSeconds: number;
    wallRatio: number;
    onlineMachineBusy: number;
    replayMachineBusy: number;
    replayOneThreadEventsPerSecond: number;
    rounds: { online: Measured[]; replay: Measured[] };
  }[],
  met: boolean,
  encoding: { withHeadersUs: number; withoutHeadersUs: number } | undefined,
): string {
  const pct = (x: number): string => `${Math.round(x * 100)}%`;
  const table = rows
    .map(
      (r) =>
        `| ${r.model} | ${fmt(r.onlineEventsPerSecond)} | ${fmt(r.replayEventsPerSecond)} | **${r.ratio.toFixed(2)}×** | ${fmt(r.replayOneThreadEventsPerSecond)} | ` +
        `${r.onlineWallSeconds.toFixed(1)} s / ${r.replayWallSeconds.toFixed(1)} s (${r.wallRatio.toFixed(2)}×) | ${pct(r.onlineMachineBusy)} / ${pct(r.replayMachineBusy)} |`,
    )
    .join('\n');
  const all = rows
    .map((r) => `- ${r.model}: online ${r.rounds.online.map((x) => fmt(x.eventsPerSecond)).join(', ')}; replay ${r.rounds.replay.map((x) => fmt(x.eventsPerSecond)).join(', ')}`)
    .join('\n');
  const enc =
    encoding === undefined
      ? ''
      : ` On this machine kafkajs spends ${encoding.withHeadersUs.toFixed(1)} µs of one core to encode one prediction record with the five kscore headers (${encoding.withoutHeadersUs.toFixed(1)} µs without them: it allocates a 512-byte buffer per header), measured in this run.`;
  const light = rows[0]!;
  const heavy = rows[1]!;
  const why = met
    ? ''
    : `
## Why the 3× target is not met here

Both paths are bound by CPU, not by waiting. With one thread, replay is no faster than online
(${fmt(light.replayOneThreadEventsPerSecond)} against ${fmt(light.onlineEventsPerSecond)} events/s with the light model): what replay saves per batch
(a commit per batch, small fetches, micro-batches of 512, scoring on the event loop) is small next
to what every record costs, and one thread is all the online path has. That per-record work is
reading the fetched record, \`JSON.parse\` of the event, encoding the prediction and, above all,
kafkajs's produce path.${enc} Replay's second thread takes the second core, which is also the
broker's: the machine is ${pct(light.replayMachineBusy)} busy during the light replay (${pct(light.onlineMachineBusy)} online), so two threads
give ${light.ratio.toFixed(2)}×, not 2×. With the heavy model online scores on its only thread and replay on two
(${heavy.ratio.toFixed(2)}×). Reaching 3× on this machine would take a much cheaper per-record path on the
produce side (a Kafka client other than kafkajs, e.g. \`@platformatic/kafka\`, whose 1.x line
installs on Node 20; not measured here), or more cores; not a different replay design.
`;
  return `# Replay throughput against the online path

Command: \`scripts/stack up && npm run bench:replay\` (${result.date}, commit ${result.commit}, ${result.cores} × ${result.cpus}, ${result.memoryGiB} GiB, Node ${result.node}).
Everything runs on this one machine: Kafka, the schema registry, Redis, the scorer and the poller.

${fmt(result.events)} JSON events (32 features) on a 3-partition topic, scored by the same model
version each way, into fresh topics:

- **online**: \`kscore serve\`, default settings, a fresh consumer group draining the topic;
- **replay**: \`kscore replay\` of the whole topic, default settings (one worker thread per core,
  fetches of 8 MiB per partition, onnxruntime batches of 4096, two batches in flight per thread).

events/s are counted from the first output record to the last (medians of ${result.rounds} rounds,
alternating online and replay); wall time runs from starting the process (including joining the
group, or starting the threads) to the last record.

| model | online events/s | replay events/s | replay / online | replay, 1 thread | wall time online / replay | machine CPU busy online / replay |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${table}

Target: replay ≥ ${TARGET}× online: **${met ? 'met' : 'not met'}**.

Every round:
${all}
${why}`;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
