/**
 * Replay throughput, for each Kafka client, against that client's pass-through copy and the online
 * path, on the same machine and the same data, in one run:
 *
 *   scripts/stack up && scripts/kafka-native && npm run bench:replay
 *
 * N JSON events (32 features) are written once to a 3-partition topic. Then, rounds alternating
 * every run, for each client: the pass-through copy (bench/passthrough.ts: the service's consumer
 * and producer, the five provenance headers, no decoding or scoring), and for a light model
 * (logistic regression) and a heavy one (300 trees of depth 6) `kscore serve` with a fresh group
 * and `kscore replay` of the whole topic (default settings: a worker thread per core). Then replay
 * with one thread, once per client. Throughput is events/s from the first output record to the
 * last, read from the output topic's end offsets, as bench/service.ts counts it.
 * Writes docs/bench-replay.{json,md}. BENCH_EVENTS (200000), BENCH_ROUNDS (3), BENCH_CLIENTS
 * (kafkajs,librdkafka).
 */
import type { KafkaClientName } from '../src/kafka/index.js';
import { logistic, treeEnsemble } from '../src/modelgen/models.js';
import { provenance, writeReport } from './lib.js';
import { passThrough, preload, register, replayThroughput, runBench, serviceThroughput } from './runs.js';

const N = Number(process.env['BENCH_EVENTS'] ?? 200_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const CLIENTS = (process.env['BENCH_CLIENTS'] ?? 'kafkajs,librdkafka').split(',') as KafkaClientName[];
/** Replay's target: this share of the fastest client's pass-through copy. */
const TARGET = 0.9;

const MODELS = [
  { key: 'light', label: 'logistic regression, 32 features', build: () => logistic(32, 1) },
  { key: 'heavy', label: '300 trees of depth 6, 32 features', build: () => treeEnsemble(32, 300, 6, 2) },
] as const;

interface Runs {
  pass: number[];
  online: Record<string, number[]>;
  replay: Record<string, number[]>;
  replayBusy: Record<string, number[]>;
  oneThread: number;
}

async function main(): Promise<void> {
  const names: Record<string, string> = {};
  for (const m of MODELS) names[m.key] = await register(m.build(), `replay-${m.key}`);
  process.stderr.write(`bench: preloading ${N} JSON events\n`);
  const input = await preload('replay-json', 'json', logistic(32, 1).features, N);
  const runs = new Map<KafkaClientName, Runs>(CLIENTS.map((c) => [c, { pass: [], online: {}, replay: {}, replayBusy: {}, oneThread: Number.NaN }]));
  const say = (what: string, x: number): void => void process.stderr.write(`bench: ${what}: ${fmt(x)} events/s\n`);

  for (let round = 0; round < ROUNDS; round++) {
    for (const client of CLIENTS) {
      const r = runs.get(client)!;
      r.pass.push((await passThrough(client, input, `rp-pass-${client}-${round}`, N)).eventsPerSecond);
      say(`${client} pass-through`, r.pass.at(-1)!);
      for (const m of MODELS) {
        const online = await serviceThroughput(input, names[m.key]!, `rp-${m.key}-${client}-${round}`, client, 'json', N);
        (r.online[m.key] ??= []).push(online.eventsPerSecond);
        const replay = await replayThroughput(input, names[m.key]!, `rr-${m.key}-${client}-${round}`, client, N);
        (r.replay[m.key] ??= []).push(replay.eventsPerSecond);
        (r.replayBusy[m.key] ??= []).push(replay.machineBusy);
        say(`${client} ${m.key} online`, online.eventsPerSecond);
        say(`${client} ${m.key} replay`, replay.eventsPerSecond);
      }
    }
  }
  for (const client of CLIENTS) {
    const r = runs.get(client)!;
    r.oneThread = (await replayThroughput(input, names['light']!, `rr-t1-${client}`, client, N, ['--threads', '1'])).eventsPerSecond;
    say(`${client} light replay, 1 thread`, r.oneThread);
  }
  report(runs);
}

function report(runs: Map<KafkaClientName, Runs>): void {
  const fastestPass = Math.max(...[...runs.values()].map((r) => median(r.pass)));
  const fastestClient = [...runs].find(([, r]) => median(r.pass) === fastestPass)![0];
  const rows = [...runs].flatMap(([client, r]) =>
    MODELS.map((m) => {
      const replay = median(r.replay[m.key]!);
      return {
        client,
        model: m.label,
        passThrough: median(r.pass),
        online: median(r.online[m.key]!),
        replay,
        replayOverFastestPass: replay / fastestPass,
        replayOverOwnPass: replay / median(r.pass),
        replayOverOnline: replay / median(r.online[m.key]!),
        replayMachineBusy: median(r.replayBusy[m.key]!),
        replayOneThread: m.key === 'light' ? r.oneThread : undefined,
        rounds: { pass: r.pass, online: r.online[m.key]!, replay: r.replay[m.key]! },
      };
    }),
  );
  const best = Math.max(...rows.filter((r) => r.model === MODELS[0].label).map((r) => r.replayOverFastestPass));
  const met = best >= TARGET;
  const p = provenance();
  const result = { ...p, events: N, rounds: ROUNDS, partitions: 3, target: TARGET, fastestPassThrough: { client: fastestClient, eventsPerSecond: fastestPass }, met, rows };
  const pct = (x: number): string => `${Math.round(x * 100)}%`;
  const md = `# Replay throughput against the pass-through copy and the online path

Command: \`scripts/stack up && scripts/kafka-native && npm run bench:replay\` (${p.date}, commit ${p.commit}, ${p.cores} × ${p.cpus}, ${p.memoryGiB} GiB, Node ${p.node}).
Everything runs on this one machine: Kafka, the schema registry, Redis, the process measured and the poller.

${fmt(N)} JSON events (32 features) on a 3-partition topic, for each Kafka client:

- **pass-through**: bench/passthrough.ts, the service's own consumer and producer copying each
  record with the five provenance headers, no decoding or scoring (the client's ceiling here);
- **online**: \`kscore serve\`, default settings, a fresh consumer group draining the topic;
- **replay**: \`kscore replay\` of the whole topic, default settings (a worker thread per core,
  fetches of 8 MiB per partition, onnxruntime batches of 4096, two batches in flight per thread).

events/s from the first output record to the last; medians of ${ROUNDS} rounds, every run
alternating with the others. The pass-through, the service and replay run with the image's environment
(\`UV_THREADPOOL_SIZE=16\`; allocator: ${p.allocator}).

| client | model | pass-through | online | replay | replay / fastest pass-through | replay / own pass-through | replay / online | replay, 1 thread | machine CPU busy in replay |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.map((r) => `| ${r.client} | ${r.model} | ${fmt(r.passThrough)} | ${fmt(r.online)} | ${fmt(r.replay)} | **${r.replayOverFastestPass.toFixed(2)}** | ${r.replayOverOwnPass.toFixed(2)} | ${r.replayOverOnline.toFixed(2)}× | ${r.replayOneThread === undefined ? '' : fmt(r.replayOneThread)} | ${pct(r.replayMachineBusy)} |`).join('\n')}

The fastest pass-through: ${fastestClient}, ${fmt(fastestPass)} events/s.
Target: replay ≥ ${TARGET} × the fastest pass-through (logistic): **${met ? 'met' : 'not met'}** (best ${best.toFixed(2)}).

${met ? '' : whyNot(rows, fastestClient, fastestPass)}
Every round:
${rows.map((r) => `- ${r.client}, ${r.model}: pass-through ${r.rounds.pass.map(fmt).join(', ')}; online ${r.rounds.online.map(fmt).join(', ')}; replay ${r.rounds.replay.map(fmt).join(', ')}`).join('\n')}
`;
  writeReport('bench-replay', result, md);
  process.stdout.write(md);
}

/** What the figures of this run say about the missed target. */
function whyNot(rows: { client: string; model: string; replay: number; passThrough: number; replayMachineBusy: number; replayOneThread: number | undefined }[], fastest: string, fastestPass: number): string {
  const light = rows.find((r) => r.client === fastest && r.model === MODELS[0].label)!;
  const one = light.replayOneThread ?? Number.NaN;
  return `## Why the target is not met here

Replay on ${fastest} reaches ${fmt(light.replay)} events/s against its pass-through's ${fmt(fastestPass)}, with the
machine ${Math.round(light.replayMachineBusy * 100)}% busy: the two cores are shared with the broker, which serves
both the reads and the acknowledged writes. With one thread replay reaches ${fmt(one)} events/s
(${(one / fastestPass).toFixed(2)} of the pass-through, which also copies on one main thread); the second thread
adds ${(light.replay / one).toFixed(2)}×, not 2×, because there is no idle core for it. What a replayed record costs
beyond the copy is decoding the event (\`JSON.parse\`), scoring it and encoding the prediction; where
the online path spends its time is in [bench-profile.md](bench-profile.md).
`;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function fmt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

runBench('bench', main);
