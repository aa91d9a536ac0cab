import { connectRedis } from '../../registry/index.js';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { confluentSchemaSource } from '../../codec/index.js';
import { createKafkaClient, kafkaConnection } from '../../kafka/index.js';
import { LoadGenerator } from '../../producer/load-generator.js';
import { ScoringService } from '../../service/service.js';
import { connectionFlags, connectionOverrides, makeContext } from '../context.js';
import { tail } from '../tail.js';
import { demo as registerDemoModel, storeFor } from './model.js';

export const demoHelp = `kscore demo [--seconds 10] [--rate 200] [--format json|avro]
  The whole online path in one command: registers a demo model, starts the service, streams
  synthetic events (a few malformed) for a while, prints some predictions, the counts, and stops.`;

export async function demoCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...connectionFlags,
      seconds: { type: 'string', default: '10' },
      rate: { type: 'string', default: '200' },
      format: { type: 'string', default: 'json' },
    },
  });
  const run = randomUUID().slice(0, 8);
  const ctx = makeContext({
    ...connectionOverrides(values),
    featuresTopic: `demo-features-${run}`,
    predictionsTopic: `demo-predictions-${run}`,
    deadLetterTopic: `demo-features-${run}.dlq`,
    groupId: `demo-${run}`,
    modelName: `demo-${run}`,
    httpPort: 0,
    logLevel: values['log-level'] === undefined ? 'warn' : (values['log-level'] as 'info'),
  });
  const { config, log } = ctx;
  const say = (s: string): boolean => process.stdout.write(`${s}\n`);

  const redis = connectRedis(config, log);
  await redis.connect();
  const meta = await registerDemoModel(ctx, storeFor(ctx, redis), { kind: 'logistic', features: '32' });
  await redis.quit();
  say(`1. registered model ${config.modelName} v${meta.version} (logistic regression, 32 features) as "${config.modelAlias}"`);

  const service = await ScoringService.create(config, log);
  const { httpUrl } = await service.start();
  say(`2. service scoring ${config.featuresTopic} -> ${config.predictionsTopic}; metrics at ${httpUrl}/metrics`);

  const kafka = await createKafkaClient(kafkaConnection(config, 'demo'), log);
  const admin = await kafka.admin();
  await admin.ensureTopics([config.featuresTopic], config.topicPartitions);
  const producer = await kafka.producer({ idempotent: false });
  const seconds = Number(values.seconds);
  const rate = Number(values.rate);
  const format = values.format === 'avro' ? 'avro' : 'json';
  say(`3. streaming ${rate} ${format} events/s for ${seconds} s (every 50th malformed, to show the dead-letter topic)`);
  const gen = new LoadGenerator(producer, confluentSchemaSource(config), {
    topic: config.featuresTopic,
    rate,
    durationMs: seconds * 1000,
    format,
    features: Array.from({ length: 32 }, (_, i) => `f${i}`),
    badEvery: 50,
  });
  const { sent } = await gen.run();
  await producer.close();

  // Read back what the service wrote.
  let predictions = 0;
  let dead = 0;
  const samples: string[] = [];
  const reasons = new Map<string, number>();
  await tail(kafka, { topics: [config.predictionsTopic, config.deadLetterTopic], fromBeginning: true, timeoutMs: 30_000, groupPrefix: `demo-reader-${run}` }, (topic, _p, message) => {
    if (topic === config.predictionsTopic) {
      predictions++;
      if (samples.length < 5) samples.push(`   key=${message.key?.toString()} -> ${message.value?.toString()}`);
    } else {
      dead++;
      const r = message.headers?.['kscore-dlq-reason']?.toString() ?? '?';
      reasons.set(r, (reasons.get(r) ?? 0) + 1);
    }
    return predictions + dead >= sent;
  });
  say('4. sample predictions:');
  for (const s of samples) say(s);
  say(`5. ${sent} events in: ${predictions} predictions, ${dead} dead-lettered (${[...reasons].map(([r, n]) => `${r}: ${n}`).join(', ')})`);
  await service.close();
  await admin.deleteTopics([config.featuresTopic, config.predictionsTopic, config.deadLetterTopic]).catch(() => undefined);
  await admin.close();
  if (predictions + dead < sent) {
    process.exitCode = 1;
    say(`FAILED: ${sent - predictions - dead} events were neither scored nor dead-lettered`);
  } else {
    say('demo complete.');
  }
}
