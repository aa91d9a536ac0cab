import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { Partitioners, type Kafka, type KafkaMessage } from 'kafkajs';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig, type Config, type ConfigInput } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/client.js';
import { confluentSchemaSource } from '../../src/codec/index.js';
import { LoadGenerator, type LoadOptions } from '../../src/producer/load-generator.js';

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
      ...overrides,
    },
  );
}

/** Environment that makes a child `kscore serve` use `config`. */
export function envFor(config: Config): Record<string, string> {
  return {
    KAFKA_BROKERS: config.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: config.schemaRegistryUrl,
    REDIS_URL: config.redisUrl,
    KSCORE_FEATURES_TOPIC: config.featuresTopic,
    KSCORE_PREDICTIONS_TOPIC: config.predictionsTopic,
    KSCORE_DEAD_LETTER_TOPIC: config.deadLetterTopic,
    KSCORE_GROUP_ID: config.groupId,
    KSCORE_MODEL_NAME: config.modelName,
    KSCORE_REDIS_KEY_PREFIX: config.redisKeyPrefix,
    KSCORE_HTTP_PORT: String(config.httpPort),
    KSCORE_LOG_LEVEL: config.logLevel,
    KSCORE_MAX_WAIT_MS: String(config.maxWaitMs),
    KSCORE_SESSION_TIMEOUT_MS: String(config.sessionTimeoutMs),
  };
}

export function kafkaFor(config: Config): Kafka {
  return createKafka({ brokers: config.kafkaBrokers, clientId: 'kscore-test', logger: testLog });
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
    const gen = new LoadGenerator(producer, confluentSchemaSource(config.schemaRegistryUrl), { topic: config.featuresTopic, ...options });
    return (await gen.run()).sent;
  } finally {
    await producer.disconnect();
  }
}

/** Sends hand-made events (key and JSON value) to the features topic. */
export async function sendEvents(config: Config, events: readonly { key: string; value: object }[]): Promise<void> {
  const kafka = kafkaFor(config);
  await ensureTopics(kafka, [config.featuresTopic], config.topicPartitions);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic: config.featuresTopic, messages: events.map((e) => ({ key: e.key, value: JSON.stringify(e.value) })) });
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

export async function deleteTopics(config: Config): Promise<void> {
  const admin = kafkaFor(config).admin();
  await admin.connect();
  await admin
    .deleteTopics({ topics: [config.featuresTopic, config.predictionsTopic, config.deadLetterTopic] })
    .catch(() => undefined);
  await admin.disconnect();
}

export function header(m: KafkaMessage, name: string): string | undefined {
  return m.headers?.[name]?.toString();
}
