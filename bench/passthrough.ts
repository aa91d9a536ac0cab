/**
 * The pass-through baseline for bench/service.ts: the service's own consumer (OnlineConsumer) and
 * sink (KafkaSink), with the same settings, copying each fetched batch to the output topic
 * (acks=all, offsets committed after acknowledgement), with no decoding and no scoring.
 *
 *   tsx bench/passthrough.ts <brokers> <input topic> <output topic> <group>
 */
import { pino } from 'pino';
import { loadConfig } from '../src/config/index.js';
import { OnlineConsumer } from '../src/consumer/online-consumer.js';
import { createKafka } from '../src/kafka/client.js';
import { KafkaSink } from '../src/producer/kafka-sink.js';

const [brokers, input, output, group] = process.argv.slice(2);
if (!brokers || !input || !output || !group) throw new Error('usage: passthrough <brokers> <input> <output> <group>');
const log = pino({ level: 'warn' });
const config = loadConfig({}, { kafkaBrokers: brokers });
const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: 'bench-passthrough', logger: log });
const sink = await KafkaSink.connect(kafka, { idempotent: false });
const consumer = new OnlineConsumer(
  kafka,
  {
    groupId: group,
    topic: input,
    fromBeginning: true,
    partitionsConcurrently: config.partitionsConcurrently,
    maxBytesPerPartition: config.maxBytesPerPartition,
    sessionTimeoutMs: config.sessionTimeoutMs,
    commitIntervalMs: config.commitIntervalMs,
  },
  log,
);
await consumer.start((batch) =>
  sink.send(batch.messages.map((m) => ({ topic: output, key: m.key, value: m.value ?? Buffer.alloc(0), headers: { ...m.headers } }))),
);
process.once('SIGTERM', () => {
  void consumer
    .stop()
    .then(() => sink.close())
    .then(() => process.exit(0));
});
