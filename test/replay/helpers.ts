import { Partitioners, type Message } from 'kafkajs';
import type { Config } from '../../src/config/index.js';
import type { BuiltModel } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { syntheticFeatures } from '../../src/producer/load-generator.js';
import { RedisModelStore, registerModel } from '../../src/registry/index.js';
import { ReplayJobs } from '../../src/replay/jobs.js';
import { collect, ensureTopics, header, kafkaFor, redisFor, testLog, type Collected } from '../support/harness.js';

/** Registers `model` (optionally under other feature names) and points `alias` at it. */
export async function register(config: Config, model: BuiltModel, options: { alias?: string; features?: string[] } = {}): Promise<string> {
  const redis = redisFor(config);
  try {
    const meta = await registerModel(
      new RedisModelStore(redis, config.redisKeyPrefix),
      config.modelName,
      { bytes: Buffer.from(model.bytes), features: options.features ?? model.features },
      { alias: options.alias ?? config.modelAlias },
    );
    return meta.version;
  } finally {
    await redis.quit();
  }
}

export async function openJobs(config: Config, cleanups: (() => Promise<void>)[]): Promise<ReplayJobs> {
  const jobs = await ReplayJobs.create(config, testLog);
  cleanups.push(() => jobs.close());
  return jobs;
}

/** Writes messages (explicit partitions and timestamps allowed) and waits for the acknowledgements. */
export async function produce(config: Config, topic: string, messages: Message[]): Promise<void> {
  const kafka = kafkaFor(config);
  await ensureTopics(kafka, [topic], config.topicPartitions);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 1000) await producer.send({ topic, messages: messages.slice(i, i + 1000), acks: -1 });
  } finally {
    await producer.disconnect();
  }
}

/** The high watermark of each partition. */
export async function ends(config: Config, topic: string): Promise<Map<number, number>> {
  const admin = kafkaFor(config).admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Records written to a topic so far (all partitions). */
export async function count(config: Config, topic: string): Promise<number> {
  let n = 0;
  for (const high of (await ends(config, topic)).values()) n += high;
  return n;
}

/** Everything in `topics`, once it holds `expected` records in total (checked by offsets first). */
export async function readExactly(config: Config, topics: string[], expected: number): Promise<Collected[]> {
  let total = 0;
  for (const t of topics) total += await count(config, t);
  if (total !== expected) throw new Error(`expected ${expected} records in ${topics.join(', ')}, found ${total}`);
  return expected === 0 ? [] : collect(config, topics, (all) => all.length >= expected);
}

/** `partition/offset` of the source event a prediction or dead letter came from. */
export function coordinates(c: Collected): string {
  return `${header(c.message, HEADERS.sourcePartition)}/${header(c.message, HEADERS.sourceOffset)}`;
}

export const keyIndex = (key: Buffer | null): number => Number(key!.toString().replace(/^\D+/, ''));

/** Rows of synthetic events (as the load generator makes them) for a model's reference. */
export function rowsOf(model: BuiltModel, indexes: number[], seed: number): Float32Array {
  const w = model.features.length;
  const rows = new Float32Array(indexes.length * w);
  indexes.forEach((i, r) => {
    const ev = syntheticFeatures(i, model.features, seed);
    model.features.forEach((f, j) => (rows[r * w + j] = ev[f]!));
  });
  return rows;
}

/** Where a replay without an output writes: the backfill topics of the predictions and dead letters. */
export function backfillTopics(config: Config): { predictions: string; deadLetters: string } {
  return { predictions: `${config.predictionsTopic}.backfill`, deadLetters: `${config.deadLetterTopic}.backfill` };
}

/** Deletes the test's topics that exist (kafkajs retries a while on one that does not), the backfill topics too. */
export async function dropTopics(config: Config, extra: string[] = []): Promise<void> {
  const admin = kafkaFor(config).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const backfill = backfillTopics(config);
    const all = [config.featuresTopic, config.predictionsTopic, config.deadLetterTopic, backfill.predictions, backfill.deadLetters, ...extra];
    const topics = all.filter((t) => existing.has(t));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the test's Redis keys (its unique prefix). */
export async function dropKeys(config: Config): Promise<void> {
  const redis = redisFor(config);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.redisKeyPrefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}
