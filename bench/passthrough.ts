/**
 * The pass-through baseline for bench/service.ts: the same Kafka client, consumer and producer
 * settings as the service, copying each fetched batch to the output topic (acks=all) and
 * committing after acknowledgement, with no decoding and no scoring.
 *
 *   tsx bench/passthrough.ts <brokers> <input topic> <output topic> <group>
 */
import { Partitioners, type Message } from 'kafkajs';
import { pino } from 'pino';
import { createKafka } from '../src/kafka/client.js';

const [brokers, input, output, group] = process.argv.slice(2);
if (!brokers || !input || !output || !group) throw new Error('usage: passthrough <brokers> <input> <output> <group>');
const kafka = createKafka({ brokers: brokers.split(','), clientId: 'bench-passthrough', logger: pino({ level: 'warn' }) });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
const consumer = kafka.consumer({ groupId: group, maxBytesPerPartition: 1_048_576, maxWaitTimeInMs: 100 });
await consumer.connect();
await consumer.subscribe({ topic: input, fromBeginning: true });
await consumer.run({
  autoCommit: true,
  eachBatchAutoResolve: false,
  partitionsConsumedConcurrently: 8,
  eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
    const messages: Message[] = batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers }));
    await producer.sendBatch({ topicMessages: [{ topic: output, messages }], acks: -1 });
    resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
    await heartbeat();
  },
});
const stop = async (): Promise<void> => {
  await consumer.disconnect();
  await producer.disconnect();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
