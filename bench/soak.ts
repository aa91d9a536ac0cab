/**
 * Soak: one `kscore serve` process for a long stretch at a steady rate, with a promotion every
 * minute and a replay every five, sampled over time. Flat memory is the target.
 *
 *   scripts/stack up && npm run bench:soak          # 30 minutes; BENCH_SOAK_MINUTES=5 for a short one
 *
 * BENCH_RATE (2000) events/s; BENCH_SOAK_REPLAY_S (300) between replays. The service runs with the
 * image's environment (jemalloc preloaded where installed, bench/lib.ts imageEnv); the shell's own
 * settings win, so `LD_PRELOAD=` measures glibc's malloc, and MALLOC_ARENA_MAX and the like reach it.
 *
 * Every sample (30 s) reads the service's own /metrics (RSS, V8 heap used, open file
 * descriptors, consumer lag) and the p99 end-to-end latency of the predictions that arrived since
 * the last sample (arrival minus the event's timestamp, which predictions carry). The slopes of
 * RSS and heap are least-squares fits over the samples after the first five minutes (warm-up).
 * Writes docs/bench-soak.{json,md} and the chart docs/bench-soak.svg.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { confluentSchemaSource } from '../src/codec/index.js';
import type { Config } from '../src/config/index.js';
import { LoadGenerator } from '../src/producer/load-generator.js';
import { connectRedis, RedisModelStore } from '../src/registry/index.js';
import { benchClient, benchConfig, ensureTopics, imageEnv, percentile, provenance, registerSwapModels, repo, serviceEnv, writeReport } from './lib.js';
import { soakChart, slopePerHour, type SoakSample } from './soak-report.js';

const MINUTES = Number(process.env['BENCH_SOAK_MINUTES'] ?? 30);
const RATE = Number(process.env['BENCH_RATE'] ?? 2000);
const SAMPLE_S = 30;
const PROMOTE_S = 60;
const REPLAY_S = Number(process.env['BENCH_SOAK_REPLAY_S'] ?? 300);
const WARMUP_S = Math.min(300, (MINUTES * 60) / 4);
/** The service's runtime environment: the image's, with the shell's value of each of these where it sets one. */
const ENV: Record<string, string> = {
  ...imageEnv.env,
  ...Object.fromEntries(['UV_THREADPOOL_SIZE', 'LD_PRELOAD', 'MALLOC_ARENA_MAX'].flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k]!]]))),
};
const ALLOCATOR = ENV['LD_PRELOAD']?.includes('jemalloc') ? 'jemalloc' : `glibc malloc${ENV['MALLOC_ARENA_MAX'] ? ` with MALLOC_ARENA_MAX=${ENV['MALLOC_ARENA_MAX']}` : ''}`;
const TOKEN = 'soak-admin-token-0123456789';

async function main(): Promise<void> {
  const id = randomUUID().slice(0, 8);
  const log = pino({ level: 'warn' });
  const config = benchConfig(`bench-soak-${id}`);
  const redis = connectRedis(config, log);
  await redis.connect();
  const store = new RedisModelStore(redis, config.redisKeyPrefix);
  const { features } = await registerSwapModels(store, config.modelName);
  const kafka = benchClient(config.kafkaBrokers, log);
  const topics = [config.featuresTopic, config.predictionsTopic, config.deadLetterTopic];
  await ensureTopics(kafka, topics, 3);

  const { url, service } = await startService(config);
  const latencies: number[] = [];
  const reader = kafka.kafka.consumer({ groupId: `bench-soak-reader-${id}`, maxWaitTimeInMs: 100 });
  await reader.connect();
  await reader.subscribe({ topics: [config.predictionsTopic], fromBeginning: true });
  await reader.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const m of batch.messages) latencies.push(now - Number(m.timestamp));
    },
  });

  const producer = await kafka.producer({ idempotent: false });
  const gen = new LoadGenerator(producer, confluentSchemaSource(config), { topic: config.featuresTopic, rate: RATE, durationMs: MINUTES * 60_000, format: 'json', features, maxBatch: 50 });
  const start = Date.now();
  const producing = gen.run();
  const samples: SoakSample[] = [];
  const replays: string[] = [];
  let promotions = 0;
  let done = false;
  void producing.finally(() => (done = true));
  for (let tick = 1; !done; tick++) {
    await sleepUntil(start + tick * SAMPLE_S * 1000, () => done);
    const t = (Date.now() - start) / 1000;
    samples.push({ t, ...(await scrape(url)), ...window(latencies.splice(0)) });
    if (done || t >= MINUTES * 60 - SAMPLE_S / 2) break; // the load ends: no promotion or replay after it
    if (Math.round(t) % PROMOTE_S < SAMPLE_S) {
      await store.setAlias(config.modelName, 'production', promotions % 2 === 0 ? '2' : '1', 'soak');
      promotions++;
    }
    if (Math.round(t) % REPLAY_S < SAMPLE_S) replays.push(await startReplay(url, start));
    const last = samples.at(-1)!;
    process.stderr.write(`soak: ${Math.round(t)} s, RSS ${last.rssMiB.toFixed(0)} MiB, heap ${last.heapMiB.toFixed(0)} MiB, fds ${last.fds}, lag ${last.lag}, p99 ${last.p99Ms} ms\n`);
  }
  const { sent } = await producing;
  const replayStates = await Promise.all(replays.map((r) => replayState(url, r)));
  const result = {
    ...provenance(),
    minutes: MINUTES,
    allocator: ALLOCATOR,
    rate: RATE,
    sent,
    promotions,
    replays: replayStates,
    rssSlopeMiBPerHour: slopePerHour(samples, WARMUP_S, (s) => s.rssMiB),
    heapSlopeMiBPerHour: slopePerHour(samples, WARMUP_S, (s) => s.heapMiB),
    fdsSlopePerHour: slopePerHour(samples, WARMUP_S, (s) => s.fds),
    samples,
  };
  writeFileSync(`${repo}/docs/bench-soak.svg`, soakChart(samples));
  writeReport('bench-soak', result, markdown(result));
  process.stdout.write(markdown(result));

  service.kill('SIGTERM');
  await new Promise((r) => service.once('exit', r));
  await Promise.all([reader.disconnect(), producer.close()]);
  const admin = await kafka.admin();
  const existing = new Set(await admin.listTopics());
  const made = [...topics, `${config.predictionsTopic}.backfill`, `${config.deadLetterTopic}.backfill`].filter((t) => existing.has(t));
  await admin.deleteTopics(made).catch(() => undefined);
  await admin.close();
  await redis.quit();
}

/** `kscore serve` as a user runs it, with an admin token for the replays; its port from its log. */
async function startService(config: Config): Promise<{ url: string; service: ReturnType<typeof spawn> }> {
  const env = serviceEnv(config, {
    ...ENV,
    KSCORE_LOG_LEVEL: 'info',
    KSCORE_API_TOKENS: `soak:admin:${TOKEN}`,
    ...(process.env['KSCORE_KAFKA_CLIENT'] === undefined ? {} : { KSCORE_KAFKA_CLIENT: process.env['KSCORE_KAFKA_CLIENT'] }),
  });

  const service = spawn(process.execPath, [`${repo}/bin/kscore.js`, 'serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    service.once('exit', (code) => reject(new Error(`kscore serve exited (${code}) before listening`)));
    service.stdout!.on('data', (d: Buffer) => {
      if (out.length < 100_000) out += d.toString();
      const m = /Server listening at (http:\/\/[^"\s]+)/.exec(out);
      if (m !== null) resolve(m[1]!);
    });
  });
  return { url, service };
}

async function scrape(url: string): Promise<Pick<SoakSample, 'rssMiB' | 'heapMiB' | 'fds' | 'lag' | 'scored'>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (name: string): number => {
    let total = 0;
    for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
    return total;
  };
  const MiB = 1024 * 1024;
  return { rssMiB: sum('process_resident_memory_bytes') / MiB, heapMiB: sum('nodejs_heap_size_used_bytes') / MiB, fds: sum('process_open_fds'), lag: sum('kscore_consumer_lag'), scored: sum('kscore_predictions_total') };
}

function window(values: number[]): Pick<SoakSample, 'p99Ms' | 'arrived'> {
  const sorted = Float64Array.from(values).sort();
  return { p99Ms: sorted.length === 0 ? 0 : Math.round(percentile(sorted, 0.99)), arrived: sorted.length };
}

/** A replay of the last five minutes into the backfill topic, over the admin API, as an operator would. */
async function startReplay(url: string, since: number): Promise<string> {
  const from = new Date(Math.max(since, Date.now() - REPLAY_S * 1000)).toISOString();
  const res = await fetch(`${url}/api/v1/replays`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ from: { time: from }, to: { time: new Date().toISOString() } }),
  });
  const body = (await res.json()) as { id?: string; message?: string };
  if (res.status !== 202 || body.id === undefined) throw new Error(`replay refused (${res.status}): ${body.message ?? ''}`);
  return body.id;
}

async function replayState(url: string, job: string): Promise<{ id: string; state: string; predictions?: number }> {
  const s = (await (await fetch(`${url}/api/v1/replays/${job}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { state: string; progress?: { predictions?: number } };
  return { id: job, state: s.state, ...(s.progress?.predictions === undefined ? {} : { predictions: s.progress.predictions }) };
}

function markdown(r: { date: string; commit: string; cores: number; cpus: string; memoryGiB: number; node: string; minutes: number; rate: number; sent: number; promotions: number; replays: { state: string }[]; rssSlopeMiBPerHour: number; heapSlopeMiBPerHour: number; fdsSlopePerHour: number; samples: SoakSample[] }): string {
  const rows = r.samples.map((s) => `| ${Math.round(s.t)} | ${s.rssMiB.toFixed(0)} | ${s.heapMiB.toFixed(1)} | ${s.fds} | ${s.lag} | ${s.arrived} | ${s.p99Ms} |`).join('\n');
  const finished = r.replays.filter((x) => x.state === 'succeeded').length;
  return `# Soak

Command: \`scripts/stack up && npm run bench:soak\` (${r.date}, commit ${r.commit}, ${r.cores} × ${r.cpus}, ${r.memoryGiB} GiB, Node ${r.node}).

One \`kscore serve\` process (allocator: ${ALLOCATOR}) for ${r.minutes} minutes at ${r.rate} JSON events/s (3 partitions, 32 features),
the production alias flipped between a logistic regression and an MLP every ${PROMOTE_S} s (${r.promotions} promotions),
and a replay of the last ${REPLAY_S / 60} minutes into the backfill topic every ${REPLAY_S / 60} minutes over the admin API
(${r.replays.length} replays, ${finished} succeeded). ${r.sent} events sent. Each row is one sample: the service's own
\`/metrics\` and the p99 latency of the predictions that arrived since the previous sample.

Slopes after the first ${WARMUP_S / 60} minutes (least squares): **RSS ${signed(r.rssSlopeMiBPerHour)} MiB/hour**,
heap ${signed(r.heapSlopeMiBPerHour)} MiB/hour, open file descriptors ${signed(r.fdsSlopePerHour)}/hour.

![RSS, heap and p99 over time](bench-soak.svg)

| t (s) | RSS MiB | heap MiB | open fds | lag | predictions in window | p99 ms |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows}
`;
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
}

async function sleepUntil(at: number, stop: () => boolean): Promise<void> {
  while (Date.now() < at && !stop()) await new Promise((r) => setTimeout(r, Math.min(250, at - Date.now())));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
