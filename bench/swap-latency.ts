/**
 * p99 end-to-end latency while model versions are being swapped, against steady state, in one run.
 *
 *   scripts/stack up && npm run bench:swap
 *
 * A `kscore serve` process scores a stream at a fixed rate. A separate consumer reads the
 * predictions and takes, for each, the time from the event's timestamp (set by the producer) to
 * the prediction's arrival. After a steady phase, the production alias flips between two versions
 * every few seconds; predictions of events produced within one second after a flip count as
 * "during a swap". Writes docs/bench-swap.{json,md}.
 */
import { randomUUID } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { LoadGenerator } from '../src/producer/load-generator.js';
import { confluentSchemaSource } from '../src/codec/index.js';
import { connectRedis, RedisModelStore } from '../src/registry/index.js';
import { pino } from 'pino';
import { spawn } from 'node:child_process';
import { benchClient, benchConfig, ensureTopics, ms, provenance, registerSwapModels, repo, serviceEnv, startLatencyProbe, summarize, writeReport } from './lib.js';

const RATE = Number(process.env['BENCH_RATE'] ?? 1000);
const STEADY_S = 15;
const SWAPS = 6;
const SWAP_EVERY_S = 3;
const SWAP_WINDOW_MS = 1000;

async function main(): Promise<void> {
  const id = randomUUID().slice(0, 8);
  const log = pino({ level: 'warn' });
  const config = benchConfig(`bench-swap-${id}`);
  const redis = connectRedis(config, log);
  await redis.connect();
  const store = new RedisModelStore(redis, config.redisKeyPrefix);
  const { features } = await registerSwapModels(store, config.modelName);

  const kafka = benchClient(config.kafkaBrokers, log);
  await ensureTopics(kafka, [config.featuresTopic, config.predictionsTopic, config.deadLetterTopic], 3);

  const env = serviceEnv(config);

  const service = spawn(process.execPath, [`${repo}/bin/kscore.js`, 'serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });

  const probe = await startLatencyProbe(kafka.kafka, config.featuresTopic, config.predictionsTopic, `bench-reader-${id}`);

  const producer = await kafka.producer({ idempotent: false });
  const gen = new LoadGenerator(producer, confluentSchemaSource(config), {
    topic: config.featuresTopic,
    rate: RATE,
    durationMs: (STEADY_S + SWAPS * SWAP_EVERY_S + 2) * 1000,
    format: 'json',
    features,
    maxBatch: 20,
  });
  const start = Date.now();
  const producing = gen.run();

  const swaps: number[] = [];
  await sleep(STEADY_S * 1000);
  for (let i = 0; i < SWAPS; i++) {
    swaps.push(Date.now());
    await store.setAlias(config.modelName, 'production', i % 2 === 0 ? '2' : '1', 'bench');
    await sleep(SWAP_EVERY_S * 1000);
  }
  const { sent } = await producing;
  const deadline = Date.now() + 30_000;
  while ((probe.arrived.size < sent || probe.produced.size < sent) && Date.now() < deadline) await sleep(100);
  const latencies = probe.latencies();

  // Steady: after a 3 s warm-up, before the first swap. During: within the window after each swap.
  const steady = latencies.filter((l) => l.produced >= start + 3000 && l.produced < swaps[0]!).map((l) => l.latency);
  const during = latencies.filter((l) => swaps.some((t) => l.produced >= t && l.produced < t + SWAP_WINDOW_MS)).map((l) => l.latency);
  const s = summarize(steady);
  const d = summarize(during);
  const result = {
    ...provenance(),
    rate: RATE,
    sent,
    received: latencies.length,
    swaps: SWAPS,
    models: ['logistic 32 features', 'MLP 32-64-1'],
    steady: s,
    duringSwap: d,
    p99Ratio: d.p99 / s.p99,
  };
  const md = `# Latency during a model swap

Command: \`scripts/stack up && npm run bench:swap\` (${result.date}, commit ${result.commit}, ${result.cores} × ${result.cpus}, ${result.memoryGiB} GiB, Node ${result.node}).

One \`kscore serve\` process, ${RATE} JSON events/s on 3 partitions; the production alias flips between a
logistic regression and an MLP (32 features) ${SWAPS} times, every ${SWAP_EVERY_S} s. End-to-end latency is
measured by a separate consumer of the events and the predictions: a prediction's arrival time minus
its event's produce timestamp.
"During a swap" counts events produced within ${SWAP_WINDOW_MS} ms after a promotion.

| phase | events | p50 ms | p99 ms | p99.9 ms | max ms |
| --- | ---: | ---: | ---: | ---: | ---: |
| steady state | ${s.n} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.p999)} | ${ms(s.max)} |
| during a swap | ${d.n} | ${ms(d.p50)} | ${ms(d.p99)} | ${ms(d.p999)} | ${ms(d.max)} |

p99 during a swap / p99 steady: **${result.p99Ratio.toFixed(2)}**. ${sent} events sent, ${latencies.length} predictions received.
`;
  writeReport('bench-swap', result, md);
  process.stdout.write(md);

  service.kill('SIGTERM');
  await new Promise((r) => service.once('exit', r));
  await Promise.all([probe.stop(), producer.close()]);
  const admin = kafka.kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [config.featuresTopic, config.predictionsTopic, config.deadLetterTopic] }).catch(() => undefined);
  await admin.disconnect();
  await redis.quit();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
