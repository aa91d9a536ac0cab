import type { Logger } from 'pino';
import { KAFKA_CODES, KafkaError, kafkaError } from '../errors.js';
import type { Admin, PartitionOffsets } from '../types.js';
import { ConnectionWatch } from './config.js';
import { codeOf, fromLibrdkafka, RD } from './errors.js';
import { call, type DeleteGroupResult, type GroupOffsets, type ListOffsetsResult, type NativeAdmin, type NativeConfig, type NativeError, type NativeModule, type TopicDescription } from './native.js';

const ATTEMPTS = 5;
const TIMEOUT_MS = 30_000;

/**
 * The admin port over librdkafka's native AdminClient. Watermarks are read with isolation
 * read_uncommitted, so `high` is the log end (under read_committed librdkafka would answer the
 * last stable offset). Errors a retry can fix are retried a few times with backoff.
 */
export class LibrdkafkaAdmin implements Admin {
  private running = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly rd: NativeModule,
    private readonly admin: NativeAdmin,
    private readonly watch: ConnectionWatch,
  ) {}

  /** A connected admin client: librdkafka's connects lazily, so one request proves it can talk to the brokers. */
  static async connect(rd: NativeModule, base: NativeConfig, log: Logger): Promise<LibrdkafkaAdmin> {
    let native: NativeAdmin;
    try {
      native = rd.AdminClient.create(base);
    } catch (err) {
      throw fromLibrdkafka(err, 'configuring the admin client');
    }
    const watch = new ConnectionWatch(native, log);
    const admin = new LibrdkafkaAdmin(rd, native, watch);
    try {
      await admin.request('connecting the admin client', (cb) => native.listTopics({ timeout: TIMEOUT_MS }, cb), { attempts: 1 });
    } catch (err) {
      void admin.close();
      throw err;
    }
    return admin;
  }

  /** Runs a native call, counted: closing waits until none is running. */
  private track<T>(fn: (cb: (err: NativeError | null | undefined, value: T) => void) => void): Promise<T> {
    this.running++;
    return call<T>(fn).finally(() => {
      if (--this.running === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  /**
   * One request; an authentication failure seen meanwhile ends it at once. Errors a retry can fix
   * are retried, including those `check` finds in the answer (per-partition errors, such as a
   * leader not elected yet on a topic just made).
   */
  private async request<T>(what: string, fn: (cb: (err: NativeError | null | undefined, value: T) => void) => void, options: { attempts?: number; check?: (value: T) => NativeError | undefined } = {}): Promise<T> {
    const attempts = options.attempts ?? ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      let stop: (() => void) | undefined;
      try {
        const refused = new Promise<never>((_, reject) => {
          stop = this.watch.onAuthFailure((detail) => reject(kafkaError(KAFKA_CODES.authentication, `${what}: ${detail}`)));
        });
        const value = await Promise.race([this.track<T>(fn), refused]);
        this.watch.ok();
        const problem = options.check?.(value);
        if (problem !== undefined) throw fromLibrdkafka(problem, what);
        return value;
      } catch (err) {
        const error = err instanceof KafkaError ? err : this.watch.explain(err, what);
        if (!error.canRetry || attempt >= attempts) throw error;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt * (0.5 + Math.random())));
      } finally {
        stop?.();
      }
    }
  }

  listTopics(): Promise<string[]> {
    return this.request('listing topics', (cb) => this.admin.listTopics({ timeout: TIMEOUT_MS }, cb));
  }

  async ensureTopics(topics: readonly string[], partitions: number, config: Readonly<Record<string, string>> = {}): Promise<void> {
    const existing = new Set(await this.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    for (const topic of missing) {
      await this.request(`creating topic ${topic}`, (cb) =>
        this.admin.createTopic({ topic, num_partitions: partitions, replication_factor: -1, config: { ...config } }, TIMEOUT_MS, (err) => cb(err?.code === RD.TOPIC_ALREADY_EXISTS ? null : err, undefined)),
      );
    }
    // Like kafkajs' waitForLeaders: usable once every partition has a leader.
    for (const topic of missing) {
      for (let attempt = 0; attempt < 20; attempt++) {
        const [d] = await this.describe([topic]).catch(() => [] as TopicDescription[]);
        if (d !== undefined && d.error === undefined && d.partitions.length > 0 && d.partitions.every((p) => p.leader !== null)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    for (const topic of topics) {
      // A topic gone already is what was asked for.
      await this.request(`deleting topic ${topic}`, (cb) => this.admin.deleteTopic(topic, TIMEOUT_MS, (err) => cb(err?.code === RD.UNKNOWN_TOPIC_OR_PART ? null : err, undefined)));
    }
  }

  private describe(topics: string[]): Promise<TopicDescription[]> {
    // A topic-level error a retry can fix (a leader being elected) is retried; a missing topic is answered.
    return this.request(`reading topic ${topics.join(', ')}`, (cb) => this.admin.describeTopics(topics, { timeout: TIMEOUT_MS }, cb), {
      check: (found) => found.find((t) => t.error !== undefined && t.error.code !== 0 && codeOf(t.error) === KAFKA_CODES.unavailable)?.error,
    });
  }

  async partitions(topic: string): Promise<number[]> {
    const [d] = await this.describe([topic]);
    if (d?.error !== undefined && d.error.code !== 0) {
      const error = fromLibrdkafka(d.error, `reading topic ${topic}`);
      if (error.code === KAFKA_CODES.unknownTopic) throw new KafkaError(KAFKA_CODES.unknownTopic, `topic ${topic} does not exist`);
      throw error;
    }
    const ids = (d?.partitions ?? []).map((p) => p.partition).sort((x, y) => x - y);
    if (ids.length === 0) throw new KafkaError(KAFKA_CODES.unknownTopic, `topic ${topic} does not exist`);
    return ids;
  }

  private async offsets(topic: string, partitions: readonly number[], spec: unknown, what: string): Promise<Map<number, number>> {
    const request = partitions.map((partition) => ({ topic, partition, offset: spec }));
    const found = await this.request<ListOffsetsResult[]>(what, (cb) => this.admin.listOffsets(request, { timeout: TIMEOUT_MS, isolationLevel: this.rd.IsolationLevel.READ_UNCOMMITTED }, cb), {
      check: (results) => results.find((r) => r.error !== undefined && r.error.code !== 0)?.error,
    });
    return new Map(found.map((r) => [r.partition, r.offset]));
  }

  async watermarks(topic: string): Promise<PartitionOffsets[]> {
    const ids = await this.partitions(topic);
    const what = `reading offsets of ${topic}`;
    const [low, high] = await Promise.all([this.offsets(topic, ids, this.rd.OffsetSpec.EARLIEST, what), this.offsets(topic, ids, this.rd.OffsetSpec.LATEST, what)]);
    return ids.map((partition) => ({ partition, low: low.get(partition) ?? 0, high: high.get(partition) ?? 0 }));
  }

  async offsetsForTime(topic: string, timestampMs: number): Promise<{ partition: number; offset: number }[]> {
    const ids = await this.partitions(topic);
    const what = `reading offsets of ${topic} by time`;
    const [found, high] = await Promise.all([this.offsets(topic, ids, new this.rd.OffsetSpec(timestampMs), what), this.offsets(topic, ids, this.rd.OffsetSpec.LATEST, what)]);
    // No record at or after the time: the log end, as the port (and kafkajs) says.
    return ids.map((partition) => {
      const offset = found.get(partition) ?? -1;
      return { partition, offset: offset >= 0 ? offset : (high.get(partition) ?? 0) };
    });
  }

  async committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: number }[]> {
    const ids = await this.partitions(topic);
    const what = `reading offsets of group ${groupId}`;
    const groups = await this.request<GroupOffsets[]>(
      what,
      (cb) => this.admin.listConsumerGroupOffsets([{ groupId, partitions: ids.map((partition) => ({ topic, partition })) }], { timeout: TIMEOUT_MS }, cb),
      { check: (found) => (found[0]?.error?.code ? found[0].error : undefined) },
    );
    const group = groups[0];
    const committed = new Map((group?.partitions ?? []).map((p) => [p.partition, p.offset]));
    // librdkafka says -1001 (no offset) where the group has none: the port's -1.
    return ids.map((partition) => {
      const offset = committed.get(partition) ?? -1;
      return { partition, offset: offset >= 0 ? offset : -1 };
    });
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    if (groupIds.length === 0) return;
    const results = await this.request<DeleteGroupResult[]>('deleting groups', (cb) => this.admin.deleteGroups([...groupIds], { timeout: TIMEOUT_MS }, cb));
    // A group that does not exist is deleted already. A group with members is not deleted: an error, as with kafkajs.
    const failed = results.filter((r) => r.errorCode !== undefined && r.errorCode !== 0 && r.errorCode !== RD.GROUP_ID_NOT_FOUND);
    const first = failed[0];
    if (first !== undefined) throw fromLibrdkafka(first.error ?? { code: first.errorCode!, message: `group ${first.groupId} not deleted` }, `deleting group ${first.groupId}`);
  }

  /**
   * The binding's disconnect is synchronous and takes a lock every running call holds until it
   * returns (up to its timeout): disconnecting earlier would block the event loop that long.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      while (this.running > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      this.admin.disconnect();
    })();
    return this.closed;
  }
}
