/**
 * The pass-through baseline for bench/service.ts: the service's own consumer (OnlineConsumer over
 * the chosen Kafka adapter) and producer, with the same settings, copying each fetched batch to the
 * output topic (acks=all, offsets committed after acknowledgement), with no decoding and no scoring.
 * Each copy carries the five provenance headers the service writes on a prediction (model,
 * version, source topic, partition, offset; src/producer/provenance.ts), built the same way, so
 * the two write records of the same shape: the client's cost per header is part of the baseline.
 *
 *   tsx bench/passthrough.ts <brokers> <input topic> <output topic> <group>   (KSCORE_KAFKA_CLIENT picks the adapter)
 */
import { pino } from 'pino';
import { loadConfig } from '../src/config/index.js';
import { OnlineConsumer, groupOptionsFrom } from '../src/consumer/online-consumer.js';
import { createKafkaClient, kafkaConnection } from '../src/kafka/index.js';
import { HEADERS } from '../src/producer/provenance.js';

const [brokers, input, output, group] = process.argv.slice(2);
if (!brokers || !input || !output || !group) throw new Error('usage: passthrough <brokers> <input> <output> <group>');
const log = pino({ level: 'warn' });
const config = loadConfig(process.env, { kafkaBrokers: brokers });
const kafka = await createKafkaClient(kafkaConnection(config, 'bench-passthrough'), log);
const producer = await kafka.producer({ idempotent: true });
const consumer = new OnlineConsumer(
  kafka.groupConsumer(groupOptionsFrom(config, { groupId: group, topics: [input], fromBeginning: true })),
  { commitIntervalMs: config.commitIntervalMs, window: config.maxInFlightBatches, revokeWaitMs: 10_000 },
  log,
  (err) => {
    log.error({ err }, 'pass-through failed');
    process.exit(1);
  },
);
const MODEL = Buffer.from('pass-through');
const VERSION = Buffer.from('1');
await consumer.start(async (batch, turn) => {
  await turn.wait;
  const sourceTopic = Buffer.from(batch.topic);
  const sourcePartition = Buffer.from(String(batch.partition));
  const sent = producer.send(
    batch.messages.map((m) => ({
      topic: output,
      key: m.key,
      value: m.value ?? Buffer.alloc(0),
      headers: { ...m.headers, [HEADERS.model]: MODEL, [HEADERS.version]: VERSION, [HEADERS.sourceTopic]: sourceTopic, [HEADERS.sourcePartition]: sourcePartition, [HEADERS.sourceOffset]: m.offset },
      timestamp: m.timestamp,
    })),
  );
  turn.issued();
  await sent;
});
process.once('SIGTERM', () => {
  void consumer
    .stop()
    .then(() => producer.close())
    .then(() => process.exit(0));
});
