import type { Admin as KjsAdmin, ITopicConfig, Kafka } from 'kafkajs';
import { KAFKA_CODES, KafkaError } from '../errors.js';
import type { Admin, PartitionOffsets } from '../types.js';
import { fromKafkajs } from './errors.js';

const ATTEMPTS = 5;
const SERVED_WITHIN_MS = 30_000;

/**
 * A new topic is usable once each partition's leader answers for it. kafkajs' `waitForLeaders`
 * fails when the metadata names a partition its broker does not host yet (KRaft propagates the
 * two apart), so ask for the partitions' offsets until they come.
 */
async function servedSoon(a: KjsAdmin, topic: string): Promise<void> {
  const end = Date.now() + SERVED_WITHIN_MS;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    try {
      await a.fetchTopicOffsets(topic);
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** The admin port over kafkajs' admin client; every error comes out as a `KafkaError`. */
export class KafkajsAdmin implements Admin {
  private constructor(private readonly admin: KjsAdmin) {}

  static async connect(kafka: Kafka): Promise<KafkajsAdmin> {
    const admin = kafka.admin();
    try {
      await admin.connect();
    } catch (err) {
      throw fromKafkajs(err, 'connecting the admin client');
    }
    return new KafkajsAdmin(admin);
  }

  /** One admin call; errors a retry can fix (a leader moving after a topic was made) are retried a few times. */
  private async call<T>(what: string, fn: (a: KjsAdmin) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(this.admin);
      } catch (err) {
        const error = fromKafkajs(err, what);
        if (!error.canRetry || attempt >= ATTEMPTS) throw error;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt * (0.5 + Math.random())));
      }
    }
  }

  listTopics(): Promise<string[]> {
    return this.call('listing topics', (a) => a.listTopics());
  }

  ensureTopics(topics: readonly string[], partitions: number, config: Readonly<Record<string, string>> = {}): Promise<void> {
    const configEntries = Object.entries(config).map(([name, value]) => ({ name, value }));
    return this.call(`creating topics ${topics.join(', ')}`, async (a) => {
      const existing = new Set(await a.listTopics());
      const missing: ITopicConfig[] = topics.filter((t) => !existing.has(t)).map((topic) => ({ topic, numPartitions: partitions, replicationFactor: -1, configEntries }));
      if (missing.length === 0) return;
      await a.createTopics({ topics: missing, waitForLeaders: false });
      for (const { topic } of missing) await servedSoon(a, topic);
    });
  }

  deleteTopics(topics: readonly string[]): Promise<void> {
    return this.call('deleting topics', (a) => a.deleteTopics({ topics: [...topics] }));
  }

  async partitions(topic: string): Promise<number[]> {
    const meta = await this.call(`reading topic ${topic}`, (a) => a.fetchTopicMetadata({ topics: [topic] }));
    const ids = (meta.topics[0]?.partitions ?? []).map((p) => p.partitionId).sort((x, y) => x - y);
    if (ids.length === 0) throw new KafkaError(KAFKA_CODES.unknownTopic, `topic ${topic} does not exist`);
    return ids;
  }

  async watermarks(topic: string): Promise<PartitionOffsets[]> {
    const ends = await this.call(`reading offsets of ${topic}`, (a) => a.fetchTopicOffsets(topic));
    return ends.map((e) => ({ partition: e.partition, low: Number(e.low), high: Number(e.high) })).sort((x, y) => x.partition - y.partition);
  }

  async offsetsForTime(topic: string, timestampMs: number): Promise<{ partition: number; offset: number }[]> {
    const found = await this.call(`reading offsets of ${topic} by time`, (a) => a.fetchTopicOffsetsByTimestamp(topic, timestampMs));
    return found.map((f) => ({ partition: f.partition, offset: Number(f.offset) }));
  }

  async committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: number }[]> {
    const groups = await this.call(`reading offsets of group ${groupId}`, (a) => a.fetchOffsets({ groupId, topics: [topic] }));
    const partitions = groups.find((g) => g.topic === topic)?.partitions ?? [];
    return partitions.map((p) => ({ partition: p.partition, offset: Number(p.offset) }));
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    if (groupIds.length === 0) return;
    await this.call('deleting groups', (a) => a.deleteGroups([...groupIds]));
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }
}
