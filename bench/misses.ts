/**
 * The "where the misses come from" section of docs/bench-service.md, from the run's own figures:
 * for each missed target, by how much and what this run measured about its cause.
 */
import { cpus } from 'node:os';
import type { KafkaClientName } from '../src/kafka/index.js';
import type { HandOff } from './handoff.js';

export interface MissFacts {
  fastest: KafkaClientName;
  /** Online events/s over the same client's pass-through, logistic JSON. */
  ratio: (client: KafkaClientName) => number;
  /** The compact header's online events/s over the five-header pass-through (fastest client). */
  compactRatio: number;
  passThrough: (client: KafkaClientName) => number;
  /** p99 ms at a rate: of the service, of the pass-through, and of the events' own hop during the service's run. */
  p99: (rate: number) => { service: number; pass: number; hop: number };
  /** Memory at the end of the fastest client's logistic JSON runs, medians, MiB. */
  memory: { rssMiB: number; heapMiB: number; externalMiB: number };
  handOff: HandOff | undefined;
  /** Main-thread CPU per event, µs, logistic JSON (medians): the service's, or the pass-through's. */
  mainMicros: (client: KafkaClientName, run: 'service' | 'pass') => number;
  /** `JSON.parse` of one bench event alone, µs. */
  jsonParseMicros: number;
  missed: { ratio: boolean; clients: boolean; latency: boolean; memory: boolean };
}

const f1 = (x: number): string => x.toFixed(1);
const n0 = (x: number): string => Math.round(x).toLocaleString('en');

/** The main thread's CPU per event in both runs, how busy that kept it, and what parsing alone costs. */
function mainThread(m: MissFacts): string {
  const svc = m.mainMicros(m.fastest, 'service');
  const pass = m.mainMicros(m.fastest, 'pass');
  if (!Number.isFinite(svc) || !Number.isFinite(pass)) return '';
  const busy = (micros: number, eventsPerSecond: number): string => `${Math.round((micros * eventsPerSecond) / 1e4)} %`;
  const serviceRate = m.ratio(m.fastest) * m.passThrough(m.fastest);
  return (
    ` Its main thread spent ${f1(svc)} µs of CPU per event (${busy(svc, serviceRate)} busy at its rate) against the pass-through's ${f1(pass)} µs ` +
    `(${busy(pass, m.passThrough(m.fastest))} busy); \`JSON.parse\` of one of these events alone takes ${f1(m.jsonParseMicros)} µs.`
  );
}

export function whereMissed(m: MissFacts): string {
  const out: string[] = [];
  const h = m.handOff;
  if (m.missed.ratio) {
    out.push(
      `- **${m.fastest} online against its pass-through** (${m.ratio(m.fastest).toFixed(2)}, logistic JSON): both write the same records, ` +
        `but the service's main thread also decodes each event, scores it and encodes the prediction, and on ${m.fastest} the main thread is ` +
        `what limits (fetching and sending run on the client's own threads).` +
        mainThread(m) +
        (h === undefined
          ? ''
          : ` Handing one record to librdkafka costs the main thread ${f1(h.fiveHeaders)} µs with the five provenance headers, ` +
            `${f1(h.compact)} µs with the compact one and ${f1(h.none)} µs with none (measured in this run; the binding converts each header object on its own).`) +
        ` With the compact header the service reaches ${m.compactRatio.toFixed(2)} of the five-header pass-through. ` +
        `Where the rest of the main thread's time goes: [bench-profile.md](bench-profile.md).`,
    );
  }
  if (m.missed.clients) {
    out.push(
      `- **librdkafka against kafkajs** (${(m.passThrough('librdkafka') / m.passThrough('kafkajs')).toFixed(2)}× as pass-through copies, ` +
        `${n0(m.passThrough('librdkafka'))} against ${n0(m.passThrough('kafkajs'))} events/s): with five headers a record, the per-header ` +
        `cost on the main thread narrows what the faster client gains; online, librdkafka keeps less of its pass-through than kafkajs (above).`,
    );
  }
  if (m.missed.latency) {
    const low = m.p99(1000);
    const high = m.p99(10_000);
    out.push(
      `- **latency**: at 1,000 events/s the pass-through's own p99 is ${f1(low.pass)} ms and the service's ${f1(low.service)} ms; ` +
        `at 10,000 events/s ${f1(high.pass)} ms and ${f1(high.service)} ms. Two hops through this broker on this machine take longer ` +
        `than the targets with nothing between them; what the service adds is the difference. During the service's run at 10,000 events/s ` +
        `the events' own hop (produce to consume, before the service) had a p99 of ${f1(high.hop)} ms: the load, the broker and the ` +
        `service share this machine's ${cpus().length} cores, and the hop into the service is part of what the service's p99 shows.`,
    );
  }
  if (m.missed.memory) {
    const rest = m.memory.rssMiB - m.memory.heapMiB - m.memory.externalMiB;
    out.push(
      `- **memory** (${m.fastest}, end of the logistic JSON runs, medians): RSS ${n0(m.memory.rssMiB)} MiB, of which V8's heap ` +
        `${n0(m.memory.heapMiB)} MiB and Buffers ${n0(m.memory.externalMiB)} MiB; the other ${n0(rest)} MiB are native: librdkafka's ` +
        `queues (its consumer prefetches up to \`queued.max.messages.kbytes\`, 64 MiB by default) and buffers, onnxruntime, code and thread stacks.`,
    );
  }
  return out.length === 0 ? '' : `\n## Where the misses come from\n\n${out.join('\n')}\n`;
}
