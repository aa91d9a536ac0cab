import { connectRedis } from '../../registry/index.js';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { confluentSchemaSource } from '../../codec/index.js';
import type { Config } from '../../config/index.js';
import { createKafkaClient, kafkaConnection, type KafkaClient } from '../../kafka/index.js';
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
  const sent = await stream(kafka, config, { seconds: Number(values.seconds), rate: Number(values.rate), format: values.format === 'avro' ? 'avro' : 'json' });
  const out = await readBack(kafka, config, sent, run);
  say('4. sample predictions:');
  for (const s of out.samples) say(s);
  say(`5. ${sent} events in: ${out.predictions} predictions, ${out.dead} dead-lettered (${[...out.reasons].map(([r, n]) => `${r}: ${n}`).join(', ')})`);
  await service.close();
  await admin.deleteTopics([config.featuresTopic, config.predictionsTopic, config.deadLetterTopic]).catch(() => undefined);
  await admin.close();
  if (out.predictions + out.dead < sent) {
    process.exitCode = 1;
    say(`FAILED: ${sent - out.predictions - out.dead} events were neither scored nor dead-lettered`);
  } else {
    say('demo complete.');
  }
}

function say(s: string): void {
  process.stdout.write(`${s}\n`);
}

/** Streams synthetic events (every 50th malformed) at `rate` for `seconds`; how many were sent. */
async function stream(kafka: KafkaClient, config: Config, o: { seconds: number; rate: number; format: 'json' | 'avro' }): Promise<number> {
  const producer = await kafka.producer({ idempotent: false });
  say(`3. streaming ${o.rate} ${o.format} events/s for ${o.seconds} s (every 50th malformed, to show the dead-letter topic)`);
  const gen = new LoadGenerator(producer, confluentSchemaSource(config), {
    topic: config.featuresTopic,
    rate: o.rate,
    durationMs: o.seconds * 1000,
    format: o.format,
    features: Array.from({ length: 32 }, (_, i) => `f${i}`),
    badEvery: 50,
  });
  const { sent } = await gen.run();
  await producer.close();
  return sent;
}

/** Reads back what the service wrote for `sent` events: predictions (a few samples) and dead letters by reason. */
async function readBack(kafka: KafkaClient, config: Config, sent: number, run: string): Promise<{ predictions: number; dead: number; samples: string[]; reasons: Map<string, number> }> {
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
  return { predictions, dead, samples, reasons };
}
