import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, Partitioners, logLevel, type ITopicConfig, type KafkaMessage } from 'kafkajs';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ENV_NAMES, loadConfig, type Config, type ConfigInput } from '../../src/config/index.js';
import { confluentSchemaSource } from '../../src/codec/index.js';
import type { Producer } from '../../src/kafka/index.js';
import { LoadGenerator, type LoadOptions } from '../../src/producer/load-generator.js';
import { eventually } from './child.js';

export const testLog = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });

export function uniqueId(): string {
  return randomUUID().slice(0, 8);
}

/** A configuration pointing at the test servers, with topics, group and model unique to one test. */
export function testConfig(overrides: Partial<ConfigInput> = {}): Config {
  const servers = inject('servers');
  const id = uniqueId();
  return loadConfig(
    {},
    {
      kafkaBrokers: servers.kafkaBrokers,
      schemaRegistryUrl: servers.schemaRegistryUrl,
      redisUrl: servers.redisUrl,
      featuresTopic: `t-features-${id}`,
      predictionsTopic: `t-predictions-${id}`,
      deadLetterTopic: `t-features-${id}.dlq`,
      groupId: `t-group-${id}`,
      modelName: `t-model-${id}`,
      redisKeyPrefix: `t-${id}:`,
      httpPort: 0,
      logLevel: 'warn',
      maxWaitMs: 2,
      // The Kafka adapter under test: CI runs the integration tests once per adapter.
      ...(process.env['KSCORE_KAFKA_CLIENT'] === 'librdkafka' ? { kafkaClient: 'librdkafka' as const } : {}),
      ...overrides,
    },
  );
}

/** Environment that makes a child `kscore ...` use `config`: every setting, by its variable. */
export function envFor(config: Config): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, name] of Object.entries(ENV_NAMES) as [keyof Config, string][]) {
    const v = config[key];
    if (v === undefined) continue;
    if (key === 'apiTokens') {
      if (config.apiTokens.length > 0) env[name] = config.apiTokens.map((t) => `${t.owner}:${t.role}:${t.token}`).join(',');
    } else if (key === 'featurePaths') {
      if (config.featurePaths.length > 0) env[name] = config.featurePaths.map((p) => `${p.feature}=${p.path.join('.')}`).join(',');
    } else if (key === 'routes') {
      env[name] = JSON.stringify(v);
    } else {
      env[name] = Array.isArray(v) ? v.join(',') : String(v);
    }
  }
  return env;
}

/**
 * The tests' own Kafka client (kafkajs, used directly: it writes the events and reads the
 * outputs from outside the service, whichever adapter the service runs on).
 */
export function kafkaFor(config: Config): Kafka {
  return new Kafka({ clientId: 'kscore-test', brokers: [...config.kafkaBrokers], logLevel: logLevel.NOTHING, retry: { initialRetryTime: 200, retries: 8 } });
}

/** Creates the topics that are missing. */
export async function ensureTopics(kafka: Kafka, topics: readonly string[], numPartitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing: ITopicConfig[] = topics.filter((t) => !existing.has(t)).map((topic) => ({ topic, numPartitions, replicationFactor: -1 }));
    if (missing.length === 0) return;
    await admin.createTopics({ topics: missing, waitForLeaders: false });
    // Leaders in the metadata can precede the partitions being hosted (kafkajs' waitForLeaders then
    // fails): wait until each answers instead.
    for (const { topic } of missing) await eventually(() => admin.fetchTopicOffsets(topic).then(() => true, () => undefined), 30_000, `topic ${topic} to be served`);
  } finally {
    await admin.disconnect();
  }
}

export function redisFor(config: Config): Redis {
  const redis = new Redis(config.redisUrl);
  redis.on('error', () => undefined);
  return redis;
}

/** Produces synthetic events with the load generator, as a user would. */
export async function produceEvents(config: Config, options: Omit<LoadOptions, 'topic'>): Promise<number> {
  const kafka = kafkaFor(config);
  await ensureTopics(kafka, [config.featuresTopic], config.topicPartitions);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    const port: Producer = {
      // Rides out a broker outage (the fault tests stop the broker while events stream).
      send: async (records) => {
        const messages = records.map((r) => ({ key: r.key, value: r.value }));
        for (let attempt = 1; ; attempt++) {
          try {
            await producer.send({ topic: config.featuresTopic, messages, acks: -1 });
            return;
          } catch (err) {
            if (attempt >= 60) throw err;
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
      },
      transaction: () => Promise.reject(new Error('not used')),
      close: () => producer.disconnect(),
    };
    const gen = new LoadGenerator(port, confluentSchemaSource(config), { topic: config.featuresTopic, ...options });
    return (await gen.run()).sent;
  } finally {
    await producer.disconnect();
  }
}

/** A hand-made event: key, value, and optionally its timestamp (ms; else the producer's clock). */
export interface TestEvent {
  key: string;
  value: object;
  timestampMs?: number;
}

/** Sends hand-made events (key and JSON value) to the features topic. */
export async function sendEvents(config: Config, events: readonly TestEvent[]): Promise<void> {
  await sendValues(config, events.map((e) => ({ ...e, value: JSON.stringify(e.value) })));
}

/**
 * Sends hand-made events as Avro in the Confluent wire format, `schema` registered under the
 * features topic's `<topic>-value` subject of the real schema registry.
 */
export async function sendAvroEvents(config: Config, schema: object, events: readonly TestEvent[]): Promise<void> {
  const registry = new SchemaRegistry({ host: config.schemaRegistryUrl });
  const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject: `${config.featuresTopic}-value` });
  const values = await Promise.all(events.map(async (e) => ({ ...e, value: await registry.encode(id, e.value) })));
  await sendValues(config, values);
}

async function sendValues(config: Config, events: readonly { key: string; value: Buffer | string; timestampMs?: number }[]): Promise<void> {
  const kafka = kafkaFor(config);
  await ensureTopics(kafka, [config.featuresTopic], config.topicPartitions);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    const messages = events.map((e) => ({ key: e.key, value: e.value, ...(e.timestampMs === undefined ? {} : { timestamp: String(e.timestampMs) }) }));
    await producer.send({ topic: config.featuresTopic, messages });
  } finally {
    await producer.disconnect();
  }
}

export interface Collected {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/**
 * Reads `topics` from the beginning with a throwaway group until `until` says enough or the
 * timeout passes; returns what it read.
 */
export async function collect(
  config: Config,
  topics: string[],
  until: (all: Collected[]) => boolean,
  timeoutMs = 60_000,
): Promise<Collected[]> {
  const kafka = kafkaFor(config);
  await ensureTopics(kafka, topics, config.topicPartitions);
  const consumer = kafka.consumer({ groupId: `t-reader-${uniqueId()}`, maxWaitTimeInMs: 100 });
  const all: Collected[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          all.push({ topic, partition, message });
          if (until(all)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return all;
}

/** Deletes the test's topics, and the backfill topics replays write by default, where they exist. */
export async function deleteTopics(config: Config): Promise<void> {
  const admin = kafkaFor(config).admin();
  await admin.connect();
  const ours = [config.featuresTopic, config.predictionsTopic, config.deadLetterTopic, `${config.predictionsTopic}.backfill`, `${config.deadLetterTopic}.backfill`];
  // kafkajs retries a while on a topic that does not exist: only the ones that do.
  const existing = new Set(await admin.listTopics().catch(() => ours));
  const topics = ours.filter((t) => existing.has(t));
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}

export function header(m: KafkaMessage, name: string): string | undefined {
  return m.headers?.[name]?.toString();
}
