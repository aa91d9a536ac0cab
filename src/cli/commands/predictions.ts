import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { createKafka } from '../../kafka/client.js';
import { connectionFlags, connectionOverrides, makeContext } from '../context.js';

export const predictionsHelp = `kscore predictions [--count N] [--from-beginning] [--topic predictions]
  Prints predictions (JSON or Avro) with their key and headers, one JSON line each.`;

export async function predictions(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...connectionFlags, count: { type: 'string' }, 'from-beginning': { type: 'boolean' }, topic: { type: 'string' } },
  });
  const { config, log } = makeContext(connectionOverrides(values));
  const topic = values.topic ?? config.predictionsTopic;
  const limit = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);
  const registry = new SchemaRegistry({ host: config.schemaRegistryUrl });
  const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: `${config.kafkaClientId}-tail`, logger: log });
  // A throwaway group: reading predictions never moves anyone else's offsets.
  const consumer = kafka.consumer({ groupId: `kscore-tail-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: values['from-beginning'] === true });
  let seen = 0;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    void consumer.run({
      eachMessage: async ({ message, partition }) => {
        if (seen >= limit) return;
        const raw = message.value;
        const value = raw !== null && raw[0] === 0 ? await registry.decode(raw) : JSON.parse(raw?.toString() ?? 'null');
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString()]));
        process.stdout.write(`${JSON.stringify({ key: message.key?.toString(), partition, offset: message.offset, value, headers })}\n`);
        if (++seen >= limit) resolve();
      },
    });
  });
  await consumer.disconnect();
}
