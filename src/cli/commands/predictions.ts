import { parseArgs } from 'node:util';
import { confluentSchemaSource, eventDecoderFor } from '../../codec/index.js';
import { errorMessage } from '../../errors.js';
import { createKafkaClient, kafkaConnection } from '../../kafka/index.js';
import { connectionFlags, connectionOverrides, makeContext } from '../context.js';
import { tail } from '../tail.js';

export const predictionsHelp = `kscore predictions [--count N] [--from-beginning] [--topic predictions]
  Prints predictions (JSON, or Avro, Protobuf or JSON Schema in the wire format) with their key
  and headers, one JSON line each.`;

export async function predictions(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...connectionFlags, count: { type: 'string' }, 'from-beginning': { type: 'boolean' }, topic: { type: 'string' } },
  });
  const { config, log } = makeContext(connectionOverrides(values));
  const topic = values.topic ?? config.predictionsTopic;
  const limit = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);
  // The service's own decoder: the same formats it writes, schemas fetched as it does.
  const decoder = eventDecoderFor({ inputFormat: 'auto', jsonSchemaValidate: false }, confluentSchemaSource(config));
  const kafka = await createKafkaClient(kafkaConnection(config, 'tail'), log);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  let seen = 0;
  await tail(kafka, { topics: [topic], fromBeginning: values['from-beginning'] === true, signal: abort.signal, groupPrefix: 'kscore-tail' }, async (_topic, partition, message) => {
    const raw = message.value;
    await decoder.prepare([raw]);
    let value: unknown;
    try {
      value = decoder.decode(raw);
    } catch (err) {
      value = { undecodable: errorMessage(err) };
    }
    const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString()]));
    process.stdout.write(`${JSON.stringify({ key: message.key?.toString(), partition, offset: message.offset, value, headers })}\n`);
    return ++seen >= limit;
  });
}
