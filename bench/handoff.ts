/**
 * Main-thread costs of single steps, for bench/service.ts's account of its missed targets
 * (bench/misses.ts): handing a record to librdkafka, and parsing one event's JSON.
 */
import { pino } from 'pino';
import { loadConfig } from '../src/config/index.js';
import { createKafkaClient, kafkaConnection, type Headers } from '../src/kafka/index.js';
import { HEADERS } from '../src/producer/provenance.js';
import { syntheticFeatures } from '../src/producer/load-generator.js';
import { ensureTopics } from './lib.js';
import { PARTITIONS, kafka, topic } from './runs.js';

const log = pino({ level: 'warn' });

export interface HandOff {
  /** µs of the main thread per record handed to librdkafka, by provenance form. */
  fiveHeaders: number;
  compact: number;
  none: number;
}

/**
 * What the librdkafka adapter's `send` costs the main thread per record, synchronously (the
 * binding copies value, key and each header into librdkafka's queue there), for a prediction with
 * the five provenance headers as the sink builds them, with the compact one, and with none.
 * Medians of 5 sends of 20,000 records each. Undefined where the librdkafka client is not built.
 */
export async function handOffCost(): Promise<HandOff | undefined> {
  const config = loadConfig(process.env, { kafkaClient: 'librdkafka', logLevel: 'warn' });
  const client = await createKafkaClient(kafkaConnection(config, 'bench-handoff'), log).catch(() => undefined);
  if (client === undefined) return undefined;
  const t = topic('handoff');
  await ensureTopics(kafka, [t], PARTITIONS);
  const producer = await client.producer({ idempotent: true });
  try {
    await producer.send([{ topic: t, key: null, value: 'warm-up' }]);
    const value = Buffer.from(JSON.stringify({ model: 'bench-logistic', version: '1', score: 0.123456789, label: null, probabilities: null }));
    const [model, version, source, partition] = ['bench-logistic', '1', 'bench-features', '1'].map((x) => Buffer.from(x));
    const forms: Record<keyof HandOff, (i: number) => Headers> = {
      fiveHeaders: (i) => ({ [HEADERS.model]: model!, [HEADERS.version]: version!, [HEADERS.sourceTopic]: source!, [HEADERS.sourcePartition]: partition!, [HEADERS.sourceOffset]: String(i) }),
      compact: (i) => ({ [HEADERS.provenance]: `bench-logistic:1@bench-features:1:${i}` }),
      none: () => ({}),
    };
    const cost = { fiveHeaders: [] as number[], compact: [] as number[], none: [] as number[] };
    for (let round = 0; round < 5; round++) {
      for (const form of Object.keys(forms) as (keyof HandOff)[]) {
        const records = Array.from({ length: 20_000 }, (_, i) => ({ topic: t, key: Buffer.from(`k${i}`), value, headers: forms[form](i), timestamp: String(Date.now()) }));
        const t0 = process.hrtime.bigint();
        const sent = producer.send(records);
        cost[form].push(Number(process.hrtime.bigint() - t0) / 1e3 / records.length);
        await sent;
      }
    }
    const mid = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return { fiveHeaders: mid(cost.fiveHeaders), compact: mid(cost.compact), none: mid(cost.none) };
  } finally {
    await producer.close();
  }
}

/**
 * µs of `JSON.parse` for one of the bench's JSON events (the service's JSON decoder is that call
 * on the value's text): 2,000 events of these features as the load generator writes them, parsed
 * 20 times over; the median of 5 such runs.
 */
export function jsonParseCost(features: readonly string[]): number {
  const values = Array.from({ length: 2000 }, (_, i) => Buffer.from(JSON.stringify(syntheticFeatures(i, features, 1))));
  const runs: number[] = [];
  let sink = 0;
  for (let run = 0; run < 5; run++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < 20; k++) for (const v of values) sink += (JSON.parse(v.toString('utf8')) as Record<string, number>)[features[0]!]!;
    runs.push(Number(process.hrtime.bigint() - t0) / 1e3 / (20 * values.length));
  }
  if (Number.isNaN(sink)) throw new Error('the parsed events lost their first feature');
  return runs.sort((a, b) => a - b)[2]!;
}
