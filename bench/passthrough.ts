/**
 * The pass-through baseline for bench/service.ts: the service's own consumer (OnlineConsumer over
 * the chosen Kafka adapter) and producer, with the same settings, copying each fetched batch to the
 * output topic (acks=all, offsets committed after acknowledgement), with no decoding and no scoring.
 *
 *   tsx bench/passthrough.ts <brokers> <input topic> <output topic> <group>   (KSCORE_KAFKA_CLIENT picks the adapter)
 */
import { pino } from 'pino';
import { loadConfig } from '../src/config/index.js';
import { OnlineConsumer, groupOptionsFrom } from '../src/consumer/online-consumer.js';
import { createKafkaClient, kafkaConnection } from '../src/kafka/index.js';

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
await consumer.start(async (batch, turn) => {
  await turn.wait;
  const sent = producer.send(batch.messages.map((m) => ({ topic: output, key: m.key, value: m.value ?? Buffer.alloc(0), headers: { ...m.headers }, timestamp: m.timestamp })));
  turn.issued();
  await sent;
});
process.once('SIGTERM', () => {
  void consumer
    .stop()
    .then(() => producer.close())
    .then(() => process.exit(0));
});
