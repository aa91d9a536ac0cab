/**
 * The whole service, measured in one run against the local stack, for each Kafka client:
 *
 *   scripts/stack up && scripts/kafka-native && npm run bench
 *
 * 1. throughput: N events preloaded into a topic are drained by a fresh consumer group, by the
 *    pass-through copy (bench/passthrough.ts: the same consumer and producer, no decoding or
 *    scoring) and by `kscore serve` with a small model (logistic, 32 features) and a heavy one
 *    (300 trees of depth 6), on JSON and on Avro; with the faster client also the compact
 *    provenance header and exactly-once; plus the ceiling, a pass-through in C (librdkafka through
 *    Python's confluent-kafka). Rounds alternate every run; medians are reported.
 * 2. end-to-end latency (p50, p99, p99.9) at 1,000 and 10,000 events/s and half the highest
 *    throughput, taken by a separate consumer: a prediction's arrival minus its event's produce time;
 *    at each rate also the pass-through copy's (the baseline) and the one hop to the probe;
 * 3. the service's resident memory under load (and how much of it is V8's heap and Buffers);
 * 4. for each missed target, what this run measured about its cause (bench/misses.ts), among it
 *    the main-thread cost of handing a record to librdkafka with and without the five headers.
 * Writes docs/bench-service.{json,md} with the machine, the date and the commit.
 * BENCH_EVENTS (100000), BENCH_ROUNDS (3), BENCH_LATENCY_SECONDS (15), BENCH_CLIENTS (kafkajs,librdkafka).
 */
import type { KafkaClientName } from '../src/kafka/index.js';
import { logistic, treeEnsemble } from '../src/modelgen/models.js';
import { handOffCost, jsonParseCost, type HandOff } from './handoff.js';
import { ms, provenance, writeReport } from './lib.js';
import { whereMissed } from './misses.js';
import { PARTITIONS, ceiling, latencyAt, passThrough, preload, register, runBench, serviceThroughput, type Drained, type Latency, type Memory } from './runs.js';

const N = Number(process.env['BENCH_EVENTS'] ?? 100_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const LATENCY_SECONDS = Number(process.env['BENCH_LATENCY_SECONDS'] ?? 15);
const CLIENTS = (process.env['BENCH_CLIENTS'] ?? 'kafkajs,librdkafka').split(',') as KafkaClientName[];

interface Row {
  client: KafkaClientName | 'librdkafka (C, Python)';
  run: string;
  format: 'json' | 'avro';
  rounds: number[];
  rssMiB: number[];
  heapMiB: number[];
  externalMiB: number[];
  /** The copying process's main-thread CPU per event, µs, each round. */
  mainMicros: number[];
}

const rows = new Map<string, Row>();
function record(client: Row['client'], run: string, format: 'json' | 'avro', drained: Drained, mem?: Memory): void {
  const key = `${client}/${run}/${format}`;
  const row = rows.get(key) ?? { client, run, format, rounds: [], rssMiB: [], heapMiB: [], externalMiB: [], mainMicros: [] };
  rows.set(key, row);
  const { eventsPerSecond } = drained;
  row.rounds.push(eventsPerSecond);
  if (Number.isFinite(drained.mainThreadMicros)) row.mainMicros.push(drained.mainThreadMicros);
  if (mem !== undefined) {
    row.rssMiB.push(mem.rssMiB);
    row.heapMiB.push(mem.heapMiB);
    row.externalMiB.push(mem.externalMiB);
  }
  process.stderr.write(`bench: ${client} ${run} ${format}: ${Math.round(eventsPerSecond).toLocaleString('en')} events/s${mem === undefined ? '' : `, ${mem.rssMiB.toFixed(0)} MiB`}\n`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function rate(client: Row['client'], run: string, format: 'json' | 'avro'): number {
  return median(rows.get(`${client}/${run}/${format}`)?.rounds ?? []);
}

const PASS = 'pass-through copy';
const LOGISTIC = 'service, logistic 32 features';
const TREES = 'service, 300 trees of depth 6';
const COMPACT = 'service, logistic, compact provenance header';
const EOS = 'service, logistic, exactly-once';

async function main(): Promise<void> {
  const small = logistic(32, 1);
  const heavy = treeEnsemble(32, 300, 6, 2);
  const smallName = await register(small, 'logistic');
  const heavyName = await register(heavy, 'trees');
  process.stderr.write(`bench: preloading ${N} JSON and ${N} Avro events\n`);
  const inputs = { json: await preload('json', 'json', small.features, N), avro: await preload('avro', 'avro', small.features, N) };
  const fastest = CLIENTS.includes('librdkafka') ? 'librdkafka' : 'kafkajs';
  const handOff = CLIENTS.includes('librdkafka') ? await handOffCost() : undefined;
  const jsonParseMicros = jsonParseCost(small.features);

  for (let round = 0; round < ROUNDS; round++) {
    const c = await ceiling(inputs.json, `ceiling-${round}`, N);
    if (c !== undefined) record('librdkafka (C, Python)', PASS, 'json', c);
    for (const client of CLIENTS) {
      for (const format of ['json', 'avro'] as const) {
        const tag = `${client}-${format}-${round}`;
        record(client, PASS, format, await passThrough(client, inputs[format], `pass-${tag}`, N));
        for (const [run, model] of [[LOGISTIC, smallName], [TREES, heavyName]] as const) {
          const r = await serviceThroughput(inputs[format], model, `${model.slice(-5)}-${tag}`, client, format, N);
          record(client, run, format, r, r);
        }
      }
    }
    const compact = await serviceThroughput(inputs.json, smallName, `compact-${round}`, fastest, 'json', N, { KSCORE_PROVENANCE_HEADERS: 'compact' });
    record(fastest, COMPACT, 'json', compact, compact);
    const eos = await serviceThroughput(inputs.json, smallName, `eos-${round}`, fastest, 'json', N, { KSCORE_DELIVERY: 'exactly-once' });
    record(fastest, EOS, 'json', eos, eos);
  }

  const latency: LatencyRow[] = [];
  for (const client of CLIENTS) {
    const best = rate(client, LOGISTIC, 'json');
    for (const r of [1000, 10_000, Math.round(best / 2 / 100) * 100]) {
      for (const [run, model] of [[PASS, undefined], [LOGISTIC, smallName]] as const) {
        const l = await latencyAt(client, r, LATENCY_SECONDS, small.features, model);
        latency.push({ client, rate: r, run, ...l });
        process.stderr.write(`bench: ${client} ${run} latency at ${r}/s: p50 ${l.p50} ms, p99 ${l.p99} ms, p99.9 ${l.p999} ms (one hop p99 ${l.hop.p99} ms)\n`);
      }
    }
  }
  report(latency, fastest, handOff, jsonParseMicros);
}

type LatencyRow = { client: KafkaClientName; rate: number; run: string } & Latency;

function report(latency: LatencyRow[], fastest: KafkaClientName, handOff: HandOff | undefined, jsonParseMicros: number): void {
  const table = [...rows.values()];
  const latRow = (client: KafkaClientName, r: number, run: string): LatencyRow | undefined => latency.find((l) => l.client === client && l.rate === r && l.run === run);
  const lat = (client: KafkaClientName, r: number, run = LOGISTIC): number => latRow(client, r, run)?.p99 ?? Number.NaN;
  const ratioOf = (client: KafkaClientName, format: 'json' | 'avro'): number => rate(client, LOGISTIC, format) / rate(client, PASS, format);
  const maxRss = Math.max(...table.filter((r) => r.run === LOGISTIC).flatMap((r) => r.rssMiB), ...latency.filter((l) => l.run === LOGISTIC).map((l) => l.rssMiB));
  const targets = [
    ...CLIENTS.flatMap((c) => (['json', 'avro'] as const).map((f) => ({ kind: 'ratio', client: c, what: `${c}: online ≥ 0.9 × its pass-through (logistic, ${f})`, value: ratioOf(c, f), met: ratioOf(c, f) >= 0.9, shown: ratioOf(c, f).toFixed(2) }))),
    ...(CLIENTS.length === 2
      ? [{ kind: 'clients', what: 'librdkafka online ≥ 1.5 × kafkajs online (logistic, JSON)', value: rate('librdkafka', LOGISTIC, 'json') / rate('kafkajs', LOGISTIC, 'json'), met: rate('librdkafka', LOGISTIC, 'json') / rate('kafkajs', LOGISTIC, 'json') >= 1.5, shown: (rate('librdkafka', LOGISTIC, 'json') / rate('kafkajs', LOGISTIC, 'json')).toFixed(2) }]
      : []),
    { kind: 'latency', what: `p99 ≤ 10 ms at 1,000 events/s (${fastest})`, value: lat(fastest, 1000), met: lat(fastest, 1000) <= 10, shown: `${ms(lat(fastest, 1000))} ms (pass-through ${ms(lat(fastest, 1000, PASS))} ms)` },
    { kind: 'latency', what: `p99 ≤ 25 ms at 10,000 events/s (${fastest})`, value: lat(fastest, 10_000), met: lat(fastest, 10_000) <= 25, shown: `${ms(lat(fastest, 10_000))} ms (pass-through ${ms(lat(fastest, 10_000, PASS))} ms)` },
    { kind: 'memory', what: 'service RSS ≤ 300 MB under load (logistic)', value: maxRss, met: maxRss <= 300 * 1e6 / 2 ** 20, shown: `${maxRss.toFixed(0)} MiB` },
  ];
  const missed = (kind: string, client?: KafkaClientName): boolean => targets.some((t) => t.kind === kind && (client === undefined || ('client' in t && t.client === client)) && !t.met);
  const logisticJson = rows.get(`${fastest}/${LOGISTIC}/json`);
  const why = whereMissed({
    fastest,
    ratio: (c) => ratioOf(c, 'json'),
    compactRatio: rate(fastest, COMPACT, 'json') / rate(fastest, PASS, 'json'),
    passThrough: (c) => rate(c, PASS, 'json'),
    p99: (r) => ({ service: lat(fastest, r), pass: lat(fastest, r, PASS), hop: latRow(fastest, r, LOGISTIC)?.hop.p99 ?? Number.NaN }),
    memory: { rssMiB: median(logisticJson?.rssMiB ?? []), heapMiB: median(logisticJson?.heapMiB ?? []), externalMiB: median(logisticJson?.externalMiB ?? []) },
    handOff,
    mainMicros: (c, run) => median(rows.get(`${c}/${run === 'pass' ? PASS : LOGISTIC}/json`)?.mainMicros ?? []),
    jsonParseMicros,
    missed: { ratio: missed('ratio', fastest), clients: missed('clients'), latency: missed('latency'), memory: missed('memory') },
  });
  const p = provenance();
  const result = { ...p, events: N, partitions: PARTITIONS, rounds: ROUNDS, throughput: table.map((r) => ({ ...r, median: rate(r.client as KafkaClientName, r.run, r.format) })), latency, targets, handOff, jsonParseMicros };
  const passOf = (r: Row): number => rate(r.client as KafkaClientName, PASS, r.format);
  const md = `# Service benchmark

Command: \`scripts/stack up && scripts/kafka-native && npm run bench\` (${p.date}, commit ${p.commit}, ${p.cores} × ${p.cpus}, ${p.memoryGiB} GiB, Node ${p.node}).
Everything runs on this one machine: Kafka, the schema registry, Redis, the service and the load.
The service and the pass-through copy run with the image's environment (\`UV_THREADPOOL_SIZE=16\`; allocator: ${p.allocator}).

## Throughput

${N.toLocaleString('en')} events (32 features) preloaded on ${PARTITIONS} partitions, drained by a fresh consumer group; events/s
from the first output record to the last; ${ROUNDS} rounds, every run alternating with the others, median reported.
Avro runs read Avro and write Avro predictions. Each prediction carries five headers (model, version,
source topic, partition, offset) unless marked compact; the pass-through copy writes the same five.
"main thread µs/event" is the CPU time of the copying process's main thread (Node's event loop, where
the client's binding, decoding, scoring and encoding run) per event, from Linux's /proc, median of the rounds.

| client | run | format | events/s (median) | vs its pass-through | every round | main thread µs/event | RSS MiB (max) |
| --- | --- | --- | ---: | ---: | --- | ---: | ---: |
${table.map((r) => `| ${r.client} | ${r.run} | ${r.format} | ${Math.round(median(r.rounds)).toLocaleString('en')} | ${r.run === PASS ? '' : (median(r.rounds) / passOf(r)).toFixed(2)} | ${r.rounds.map((x) => Math.round(x).toLocaleString('en')).join(', ')} | ${r.mainMicros.length === 0 ? '' : median(r.mainMicros).toFixed(1)} | ${r.rssMiB.length === 0 ? '' : Math.max(...r.rssMiB).toFixed(0)} |`).join('\n')}

## End-to-end latency

\`kscore serve\` with the logistic model on JSON events at a fixed rate for ${LATENCY_SECONDS} s, and at the same rate the
pass-through copy: the same client's consumer and producer with no decoding or scoring, so the
latency of two hops through this broker with nothing between them. A separate consumer takes each
output's arrival time minus its event's produce timestamp (the first 2 s left out); it also reads the
events themselves, and "one hop" is the p99 of an event's own arrival there (produce to consume).
"sent/s" is the rate the load reached.

| client | events/s | sent/s | run | events | p50 ms | p99 ms | p99.9 ms | one hop p99 ms | RSS MiB |
| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |
${latency.map((l) => `| ${l.client} | ${l.rate.toLocaleString('en')} | ${Math.round(l.sentPerSecond).toLocaleString('en')} | ${l.run} | ${l.n} | ${ms(l.p50)} | ${ms(l.p99)} | ${ms(l.p999)} | ${ms(l.hop.p99)} | ${Number.isFinite(l.rssMiB) ? l.rssMiB.toFixed(0) : ''} |`).join('\n')}

## Targets

| target | measured | met |
| --- | ---: | --- |
${targets.map((t) => `| ${t.what} | ${t.shown} | ${t.met ? 'yes' : '**no**'} |`).join('\n')}
${why}`;
  writeReport('bench-service', result, md);
  process.stdout.write(md);
}

runBench('bench', main);
