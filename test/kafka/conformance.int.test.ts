/**
 * The Kafka port's conformance suite: every adapter (kafkajs, librdkafka) passes the same tests
 * against the real broker. Each test names its own topics and groups.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OnlineConsumer } from '../../src/consumer/online-consumer.js';
import {
  createKafkaClient,
  DeliveryError,
  type Admin,
  type FetchedBatch,
  type KafkaClient,
  type KafkaClientName,
  type KafkaRecord,
  type OutgoingRecord,
  type RecordBatch,
} from '../../src/kafka/index.js';
import { uniqueId } from '../support/harness.js';
import { eventually } from '../support/child.js';

const log = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });
const ADAPTERS: KafkaClientName[] = ['kafkajs', 'librdkafka'];

function record(topic: string, i: number, partition?: number): OutgoingRecord {
  return {
    topic,
    key: `k${i}`,
    value: JSON.stringify({ i }),
    headers: { 'x-i': String(i), 'x-bin': Buffer.from([0, 255, i % 256]) },
    timestamp: String(1_700_000_000_000 + i),
    ...(partition === undefined ? {} : { partition }),
  };
}

const idOf = (m: KafkaRecord): number => (JSON.parse(m.value!.toString()) as { i: number }).i;

/** Reads everything of `[start, end)` of each partition with the adapter's range reader. */
async function readRanges(kafka: KafkaClient, topic: string, ranges: Record<number, [number, number]>): Promise<Map<number, KafkaRecord[]>> {
  const reader = await kafka.rangeReader({ topic, groupId: `conf-range-${uniqueId()}`, maxBytesPerPartition: 1 << 20, readCommitted: true });
  const out = new Map<number, KafkaRecord[]>();
  try {
    for (const [p, [start, end]] of Object.entries(ranges)) {
      const got: KafkaRecord[] = [];
      await reader.read(Number(p), start, end, async (b: RecordBatch) => {
        got.push(...b.messages);
      });
      out.set(Number(p), got);
    }
  } finally {
    await reader.close();
  }
  return out;
}

describe.each(ADAPTERS)('the %s adapter', (name) => {
  let kafka: KafkaClient;
  let admin: Admin;
  const topics: string[] = [];
  const topic = (what: string): string => {
    const t = `conf-${name}-${what}-${uniqueId()}`;
    topics.push(t);
    return t;
  };

  beforeAll(async () => {
    const servers = inject('servers');
    if (name === 'librdkafka' && !servers.librdkafka) throw new Error('the librdkafka addon is not built (scripts/kafka-native failed; see the setup output)');
    kafka = await createKafkaClient({ client: name, brokers: servers.kafkaBrokers.split(','), clientId: `conf-${name}` }, log);
    admin = await kafka.admin();
  });

  afterAll(async () => {
    await admin?.deleteTopics(topics).catch(() => undefined);
    await admin?.close();
  });

  it('round-trips key, value, headers and timestamp, in order within each partition', async () => {
    const t = topic('roundtrip');
    await admin.ensureTopics([t], 3);
    const producer = await kafka.producer();
    const n = 600;
    try {
      // Several sends in flight at once, as the service issues them.
      await Promise.all(Array.from({ length: 6 }, (_, s) => producer.send(Array.from({ length: n / 6 }, (_, j) => record(t, s * (n / 6) + j)))));
    } finally {
      await producer.close();
    }
    const marks = await admin.watermarks(t);
    expect(marks.reduce((sum, m) => sum + m.high, 0)).toBe(n);
    const read = await readRanges(kafka, t, Object.fromEntries(marks.map((m) => [m.partition, [m.low, m.high]])));
    const all = [...read.values()].flat();
    expect(all.map(idOf).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    for (const m of all) {
      const i = idOf(m);
      expect(m.key?.toString()).toBe(`k${i}`);
      expect(m.timestamp).toBe(String(1_700_000_000_000 + i));
      expect(m.headers?.['x-i']?.toString()).toBe(String(i));
      expect(Buffer.from(m.headers!['x-bin'] as Buffer)).toEqual(Buffer.from([0, 255, i % 256]));
    }
    // Keys land on the same partition every time (the Java client's murmur2), and within a
    // partition the order of one send is kept (and of sends issued one after another).
    for (const records of read.values()) {
      const offsets = records.map((m) => Number(m.offset));
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      for (let s = 0; s < 6; s++) {
        const ofSend = records.map(idOf).filter((i) => Math.floor(i / (n / 6)) === s);
        expect(ofSend).toEqual([...ofSend].sort((a, b) => a - b));
      }
    }
  });

  it('reads exactly [from, to), also when the range ends on a transaction marker or an aborted transaction', async () => {
    const t = topic('txn');
    await admin.ensureTopics([t], 1);
    const plain = await kafka.producer();
    const txp = await kafka.producer({ transactionalId: `conf-${name}-${uniqueId()}` });
    try {
      await plain.send([0, 1, 2].map((i) => record(t, i, 0))); // offsets 0..2
      const committed = await txp.transaction();
      await committed.send([3, 4].map((i) => record(t, i, 0)));
      await committed.commit(); // 3, 4, commit marker
      const aborted = await txp.transaction();
      await aborted.send([5, 6].map((i) => record(t, i, 0)));
      await aborted.abort(); // 5, 6 aborted, abort marker
    } finally {
      await Promise.all([plain.close(), txp.close()]);
    }
    // 3 + 2 + marker + 2 + marker; the coordinator writes the markers after commit and abort return.
    const end = await eventually(async () => {
      const high = (await admin.watermarks(t))[0]!.high;
      return high === 9 ? high : undefined;
    }, 30_000, 'the transaction markers');
    const whole = (await readRanges(kafka, t, { 0: [0, end] })).get(0)!;
    expect(whole.map(idOf)).toEqual([0, 1, 2, 3, 4]); // aborted records are skipped
    // A range whose last offsets are control records or aborted records still ends.
    expect((await readRanges(kafka, t, { 0: [3, 6] })).get(0)!.map(idOf)).toEqual([3, 4]);
    expect((await readRanges(kafka, t, { 0: [5, 9] })).get(0)!.map(idOf)).toEqual([]);
    expect((await readRanges(kafka, t, { 0: [1, 4] })).get(0)!.map(idOf)).toEqual([1, 2, 3]);
  });

  it('reads exactly [from, to) across the gaps compaction leaves', async () => {
    const t = topic('compact');
    // A compacted topic whose cleaner runs at once: segments roll every 100 ms.
    const producer = await kafka.producer({ idempotent: false });
    await admin.ensureTopics([t], 1, {
      'cleanup.policy': 'compact',
      'segment.ms': '100',
      'min.cleanable.dirty.ratio': '0.001',
      'min.compaction.lag.ms': '0',
      'delete.retention.ms': '0',
    });
    try {
      // Keys 0..9 written five times each: offsets 0..49; compaction keeps the last of each key.
      for (let round = 0; round < 5; round++) {
        await producer.send(Array.from({ length: 10 }, (_, k) => ({ ...record(t, round * 10 + k, 0), key: `key-${k}` })));
        await new Promise((r) => setTimeout(r, 150)); // new segments, so there is something to clean
      }
      // Later writes roll the active segment so the cleaner may take the old ones.
      await eventually(
        async () => {
          await producer.send([{ ...record(t, 1000, 0), key: 'roll' }]);
          const got = (await readRanges(kafka, t, { 0: [0, 50] })).get(0)!;
          return got.length < 50 ? got : undefined;
        },
        90_000,
        'the log cleaner to compact the topic',
      );
    } finally {
      await producer.close();
    }
    const got = (await readRanges(kafka, t, { 0: [0, 50] })).get(0)!;
    const offsets = got.map((m) => Number(m.offset));
    expect(offsets.every((o) => o < 50)).toBe(true);
    expect(offsets.slice(-10)).toEqual([40, 41, 42, 43, 44, 45, 46, 47, 48, 49]); // the last round survives whole
    // A range starting inside a gap returns what is left of it, and ends.
    const inner = (await readRanges(kafka, t, { 0: [5, 45] })).get(0)!.map((m) => Number(m.offset));
    expect(inner.every((o) => o >= 5 && o < 45)).toBe(true);
    expect(inner.slice(-5)).toEqual([40, 41, 42, 43, 44]);
  });

  it('names the records of a send that were not delivered, and delivers the others', async () => {
    const servers = inject('servers');
    const secure = servers.secure;
    if (secure === undefined) throw new Error('needs the secured servers of scripts/stack (not running)');
    const denied = await createKafkaClient(
      {
        client: name,
        brokers: [secure['KAFKA_SASL_SSL_BROKERS']!],
        clientId: `conf-${name}-denied`,
        tls: { caFile: secure['STACK_TLS_CA'], verifyHostname: true },
        sasl: { mechanism: 'plain', username: secure['STACK_DENIED_USER'], password: secure['STACK_DENIED_PASSWORD'] },
      },
      log,
    );
    const ok = topic('allowed');
    const refused = `${secure['STACK_DENIED_TOPIC_PREFIX']}${name}-${uniqueId()}`;
    topics.push(refused);
    await admin.ensureTopics([ok, refused], 1);
    const producer = await denied.producer();
    try {
      const err = await producer.send([record(ok, 0), record(refused, 1), record(ok, 2)]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeliveryError);
      const d = err as DeliveryError;
      const failed = new Set(d.failures.map((f) => f.index));
      expect(failed.has(1)).toBe(true);
      expect(d.failures.find((f) => f.index === 1)!.error.code).toBe('KAFKA_AUTHORIZATION');
      expect(d.canRetry).toBe(false);
      // The contract: every record not listed was delivered. (kafkajs refreshes the metadata of a
      // producer's topics together, so one refused topic can fail another's records too; librdkafka
      // reports each record on its own.)
      if (name === 'librdkafka') expect([...failed]).toEqual([1]);
      expect((await admin.watermarks(ok))[0]!.high).toBe([0, 2].filter((i) => !failed.has(i)).length);
    } finally {
      await producer.close();
    }
  });

  it('commits in a transaction the group offsets with the records, or neither', async () => {
    const src = topic('eos-src');
    const out = topic('eos-out');
    const group = `conf-${name}-eos-${uniqueId()}`;
    await admin.ensureTopics([src, out], 1);
    const producer = await kafka.producer({ transactionalId: `conf-${name}-eos-${uniqueId()}` });
    try {
      const t1 = await producer.transaction();
      await t1.send([record(out, 1, 0)]);
      await t1.sendOffsets(group, [{ topic: src, partition: 0, offset: '7' }]);
      await t1.commit();
      const t2 = await producer.transaction();
      await t2.send([record(out, 2, 0)]);
      await t2.sendOffsets(group, [{ topic: src, partition: 0, offset: '9' }]);
      await t2.abort();
    } finally {
      await producer.close();
    }
    expect(await admin.committedOffsets(group, src)).toEqual([{ partition: 0, offset: 7 }]);
    const end = (await admin.watermarks(out))[0]!.high;
    expect((await readRanges(kafka, out, { 0: [0, end] })).get(0)!.map(idOf)).toEqual([1]);
    await admin.deleteGroups([group]);
  });

  it('as a group member: commits only what it is told, resumes there, and hands a revoked partition over without losing records', async () => {
    const t = topic('group');
    const group = `conf-${name}-group-${uniqueId()}`;
    await admin.ensureTopics([t], 4);
    const producer = await kafka.producer();
    const n = 2000;
    await producer.send(Array.from({ length: n }, (_, i) => record(t, i)));

    // Member A consumes through the service's online consumer, acknowledging every batch after a
    // short wait, so batches are in flight when member B joins.
    const seen: number[] = [];
    const options = { groupId: group, topics: [t], fromBeginning: true, sessionTimeoutMs: 10_000, maxBytesPerPartition: 16 * 1024, partitionsConcurrently: 4, readCommitted: true };
    const work = async (b: FetchedBatch, turn: { wait: Promise<void>; issued(): void }): Promise<void> => {
      await turn.wait;
      turn.issued();
      await new Promise((r) => setTimeout(r, 20));
      for (const m of b.messages) seen.push(idOf(m));
    };
    const member = (): OnlineConsumer =>
      new OnlineConsumer(kafka.groupConsumer(options), { commitIntervalMs: 200, window: 2, revokeWaitMs: 5_000 }, log, (e) => {
        throw e;
      });
    const a = member();
    await a.start(work);
    await eventually(async () => (seen.length > 100 ? true : undefined), 60_000, 'member A to consume');
    const b = member();
    await b.start(work);
    await producer.send(Array.from({ length: n }, (_, i) => record(t, n + i)));
    await eventually(async () => (new Set(seen).size === 2 * n ? true : undefined), 120_000, 'every record to be consumed by A or B');
    await Promise.all([a.stop(), b.stop()]);
    await producer.close();

    // Everything committed, and only once acknowledged: the group's offsets are the log end.
    const ends = await admin.watermarks(t);
    const committed = await admin.committedOffsets(group, t);
    expect(committed.sort((x, y) => x.partition - y.partition)).toEqual(ends.map((e) => ({ partition: e.partition, offset: e.high })));
    // Duplicates (a revoke's batches in flight scored again) are allowed, loss is not.
    expect(seen.length).toBeGreaterThanOrEqual(2 * n);

    // A member that commits by hand: a new member of the group resumes from there.
    const c = kafka.groupConsumer({ ...options, groupId: `${group}-manual` });
    const firstBatch = new Promise<FetchedBatch>((resolve) => {
      void c.run({ batch: async (bt) => resolve(bt), assigned: () => undefined, revoked: async () => undefined, failed: (e) => { throw e; } });
    });
    const fb = await firstBatch;
    await c.commit([{ topic: t, partition: fb.partition, offset: String(Number(fb.messages[0]!.offset) + 1) }]);
    await c.stop();
    const after = await admin.committedOffsets(`${group}-manual`, t);
    expect(after.find((o) => o.partition === fb.partition)?.offset).toBe(Number(fb.messages[0]!.offset) + 1);
    // A member's leave can reach the group coordinator moments after its close returns.
    await eventually(() => admin.deleteGroups([group, `${group}-manual`]).then(() => true, () => undefined), 30_000, 'the groups to be empty and deleted');
  });
});
