import { parseArgs } from 'node:util';
import { confluentSchemaSource } from '../../codec/index.js';
import { createKafkaClient, kafkaConnection } from '../../kafka/index.js';
import { LoadGenerator } from '../../producer/load-generator.js';
import { featureNames } from '../../modelgen/models.js';
import { connectionFlags, connectionOverrides, makeContext } from '../context.js';
import { UsageError } from './model.js';

export const produceHelp = `kscore produce [--rate 1000] [--count N] [--duration SECONDS] [--format json|avro]
               [--features 32 | --feature-names a,b,c] [--bad-every K] [--seed 1] [--topic features]
  A load generator: writes synthetic feature events at a given rate (0 = as fast as possible).
  --bad-every K makes every K-th event malformed, cycling through the kinds of bad input.`;

export async function produce(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...connectionFlags,
      rate: { type: 'string', default: '1000' },
      count: { type: 'string' },
      duration: { type: 'string' },
      format: { type: 'string', default: 'json' },
      features: { type: 'string', default: '32' },
      'feature-names': { type: 'string' },
      'bad-every': { type: 'string', default: '0' },
      seed: { type: 'string', default: '1' },
      topic: { type: 'string' },
    },
  });
  const { config, log } = makeContext(connectionOverrides(values));
  const format = values.format;
  if (format !== 'json' && format !== 'avro') throw new UsageError('--format must be json or avro');
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number >= 0`);
    return n;
  };
  const features = values['feature-names']?.split(',') ?? featureNames(num('features', values.features)!);
  const topic = values.topic ?? config.featuresTopic;
  const kafka = await createKafkaClient(kafkaConnection(config, 'producer'), log);
  if (config.createTopics) {
    const admin = await kafka.admin();
    await admin.ensureTopics([topic], config.topicPartitions).finally(() => admin.close());
  }
  const producer = await kafka.producer({ idempotent: false });
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  const durationS = num('duration', values.duration);
  const count = num('count', values.count);
  const gen = new LoadGenerator(producer, confluentSchemaSource(config), {
    topic,
    rate: num('rate', values.rate)!,
    format,
    subjectNameStrategy: config.subjectNameStrategy,
    features,
    badEvery: num('bad-every', values['bad-every'])!,
    seed: num('seed', values.seed)!,
    signal: abort.signal,
    ...(count === undefined ? {} : { count }),
    ...(durationS === undefined ? {} : { durationMs: durationS * 1000 }),
    onProgress: (sent, ms) => process.stderr.write(`produced ${sent} events (${Math.round((sent * 1000) / ms)}/s)\n`),
  });
  const { sent, elapsedMs } = await gen.run();
  await producer.close();
  process.stderr.write(`produced ${sent} events to ${topic} in ${(elapsedMs / 1000).toFixed(1)} s\n`);
}
