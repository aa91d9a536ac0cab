import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DeliveryError, KafkaError, RangeGoneError } from '../../../src/kafka/errors.js';
import type { KafkaConnection } from '../../../src/kafka/connection.js';
import { partitionForKey } from '../../../src/kafka/librdkafka/delivery.js';
import { LibrdkafkaGroupConsumer } from '../../../src/kafka/librdkafka/group-consumer.js';
import { loadNative, type NativeModule } from '../../../src/kafka/librdkafka/native.js';
import { createKafkaClient } from '../../../src/kafka/index.js';
import type { Admin, FetchedBatch, GroupConsumer, GroupConsumerOptions, GroupHandlers, KafkaClient, OutgoingRecord, TopicPartition } from '../../../src/kafka/types.js';
import { secureKafka, type SecureKafka } from '../../support/secure-kafka.js';

const log = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });
const rd: NativeModule | undefined = await loadNative().catch(() => undefined);
const secure: SecureKafka | undefined = await secureKafka();
const id = (): string => randomUUID().slice(0, 8);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** How far the adapter has read partition 0 of `topic` from librdkafka (its native consumer's position), -1 before. */
function nativePosition(consumer: GroupConsumer, topic: string): number {
  if (!(consumer instanceof LibrdkafkaGroupConsumer)) throw new Error('not a librdkafka consumer');
  return consumer.native?.position().find((p) => p.topic === topic && p.partition === 0)?.offset ?? -1;
}

describe.skipIf(rd === undefined)('the librdkafka adapter on a real broker', () => {
  const brokers = inject('servers').kafkaBrokers.split(',');
  const plaintext: KafkaConnection = { client: 'librdkafka', brokers, clientId: 'kscore-rdk-test' };
  let client: KafkaClient;
  let admin: Admin;
  const topics: string[] = [];
  const groups: string[] = [];
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    client = await createKafkaClient(plaintext, log);
    expect(client.name).toBe('librdkafka');
    admin = await client.admin();
  });

  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await admin?.deleteGroups(groups).catch(() => undefined);
    await admin?.deleteTopics(topics).catch(() => undefined);
    await admin?.close();
  });

  async function topic(what: string, partitions: number, name = `t-rdk-${what}-${id()}`): Promise<string> {
    topics.push(name);
    await admin.ensureTopics([name], partitions);
    return name;
  }

  function group(): string {
    const g = `t-rdk-g-${id()}`;
    groups.push(g);
    return g;
  }

  async function producer(c: KafkaClient = client, options = {}): Promise<Awaited<ReturnType<KafkaClient['producer']>>> {
    const p = await c.producer(options);
    closers.push(() => p.close());
    return p;
  }

  /** A started group member that records its batches; `hold` lets a test keep batches pending. */
  async function member(
    t: string | string[],
    groupId: string,
    extra: Partial<GroupHandlers> & { hold?: (b: FetchedBatch) => Promise<void> } = {},
    c: KafkaClient = client,
    options: Partial<GroupConsumerOptions> = {},
  ): Promise<{ consumer: GroupConsumer; batches: FetchedBatch[]; assigned: TopicPartition[][]; revoked: TopicPartition[][] }> {
    const consumer = c.groupConsumer({
      groupId,
      topics: Array.isArray(t) ? t : [t],
      fromBeginning: true,
      sessionTimeoutMs: 10_000,
      maxBytesPerPartition: 1 << 20,
      partitionsConcurrently: 8,
      readCommitted: true,
      maxWaitMs: 50,
      ...options,
    });
    const m = { consumer, batches: [] as FetchedBatch[], assigned: [] as TopicPartition[][], revoked: [] as TopicPartition[][] };
    closers.push(() => consumer.stop());
    await consumer.run({
      batch: async (b) => {
        m.batches.push(b);
        await extra.hold?.(b);
        await extra.batch?.(b);
      },
      assigned: (p) => {
        m.assigned.push([...p]);
        extra.assigned?.(p);
      },
      revoked: async (p) => {
        m.revoked.push([...p]);
        await extra.revoked?.(p);
      },
      failed: (e) => extra.failed?.(e),
    });
    return m;
  }

  const count = (batches: readonly FetchedBatch[]): number => batches.reduce((n, b) => n + b.messages.length, 0);

  it('round trip: keys, values, headers, timestamps, per-partition order, and the partitions Java would pick', async () => {
    const t = await topic('rt', 3);
    const p = await producer();
    const records: OutgoingRecord[] = Array.from({ length: 300 }, (_, i) => ({
      topic: t,
      key: i % 2 === 0 ? `key-${i % 17}` : Buffer.from(`key-${i % 17}`),
      value: JSON.stringify({ i }),
      headers: { 'x-i': String(i), 'x-bin': Buffer.from([0xff, i % 256]), 'x-multi': ['a', 'b'] },
      timestamp: String(1_700_000_000_000 + i),
    }));
    await p.send(records);
    const m = await member(t, group());
    await until('all records', () => count(m.batches) >= 300);
    expect(m.consumer.health()).toEqual({ ok: true });
    const seen = new Set<number>();
    const lastByPartition = new Map<number, number>();
    for (const b of m.batches) {
      if (b.messages.length > 0) expect(b.nextOffset).toBe(String(Number(b.messages[b.messages.length - 1]!.offset) + 1));
      for (const r of b.messages) {
        const i = (JSON.parse(r.value!.toString()) as { i: number }).i;
        expect(seen.has(i)).toBe(false);
        seen.add(i);
        expect(r.key!.toString()).toBe(`key-${i % 17}`);
        expect(b.partition).toBe(partitionForKey(Buffer.from(`key-${i % 17}`), 3));
        expect(r.timestamp).toBe(String(1_700_000_000_000 + i));
        expect(r.headers!['x-i']!.toString()).toBe(String(i));
        expect(r.headers!['x-bin']).toEqual(Buffer.from([0xff, i % 256]));
        expect((r.headers!['x-multi'] as Buffer[]).map(String)).toEqual(['a', 'b']);
        // Per partition, records come in the order they were sent.
        expect(i).toBeGreaterThan(lastByPartition.get(b.partition) ?? -1);
        lastByPartition.set(b.partition, i);
      }
    }
    expect(seen.size).toBe(300);
  });

  it('commits only what it is told to, and a new member starts there', async () => {
    const t = await topic('commit', 2);
    const g = group();
    const p = await producer();
    await p.send(Array.from({ length: 40 }, (_, i) => ({ topic: t, key: null, value: `v${i}`, partition: i % 2 })));
    const first = await member(t, g);
    await until('all records', () => count(first.batches) >= 40);
    await first.consumer.stop(() => first.consumer.commit([{ topic: t, partition: 0, offset: '5' }]));
    expect(await admin.committedOffsets(g, t)).toEqual([
      { partition: 0, offset: 5 },
      { partition: 1, offset: -1 },
    ]);
    const second = await member(t, g);
    await until('the rest', () => count(second.batches) >= 35);
    const firstOffset = (partition: number): string | undefined => second.batches.find((b) => b.partition === partition && b.messages.length > 0)?.messages[0]?.offset;
    expect(firstOffset(0)).toBe('5');
    expect(firstOffset(1)).toBe('0');
    expect(count(second.batches)).toBe(35);
  });

  it('hands out no second batch of a partition while one is pending', async () => {
    const t = await topic('pause', 1);
    const p = await producer();
    await p.send(Array.from({ length: 50 }, (_, i) => ({ topic: t, key: 'k', value: `v${i}` })));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let pending = 0;
    let maxPending = 0;
    const m = await member(t, group(), {
      hold: async (b) => {
        pending++;
        maxPending = Math.max(maxPending, pending);
        if (b.messages[0]?.offset === '0') await held;
        pending--;
      },
    });
    await until('the first batch', () => m.batches.length >= 1);
    await p.send(Array.from({ length: 50 }, (_, i) => ({ topic: t, key: 'k', value: `w${i}` })));
    // The adapter has read the next 50 from librdkafka (its position is past them) and still holds them back.
    await until('the adapter to read the next 50', () => nativePosition(m.consumer, t) >= 100);
    expect(m.batches).toHaveLength(1);
    release();
    await until('all 100', () => count(m.batches) >= 100);
    expect(maxPending).toBe(1);
    const offsets = m.batches.flatMap((b) => b.messages.map((r) => Number(r.offset)));
    expect(offsets).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('hands partitions over between two members without losing or repeating a record (revocation waits and commits)', async () => {
    const t = await topic('revoke', 4);
    const g = group();
    const p = await producer();
    let produced = 0;
    let producing = true;
    const writer = (async () => {
      while (producing) {
        await p.send(Array.from({ length: 40 }, (_, i) => ({ topic: t, key: `k${produced + i}`, value: String(produced + i) })));
        produced += 40;
        await sleep(50);
      }
    })();
    // Each member "processes" a batch at once and, when partitions are revoked, commits how far it got.
    const make = async (): Promise<{ m: Awaited<ReturnType<typeof member>>; next: Map<number, number> }> => {
      const next = new Map<number, number>();
      let consumer: GroupConsumer | undefined;
      const m = await member(t, g, {
        batch: async (b) => void next.set(b.partition, Number(b.nextOffset)),
        revoked: async (parts) => {
          const offsets = parts.filter((tp) => next.has(tp.partition)).map((tp) => ({ ...tp, offset: String(next.get(tp.partition)) }));
          await consumer!.commit(offsets);
          for (const tp of parts) next.delete(tp.partition);
        },
      });
      consumer = m.consumer;
      return { m, next };
    };
    const a = await make();
    await until('member A reading', () => count(a.m.batches) > 100);
    const b = await make();
    await until('member B assigned some partitions', () => b.m.assigned.some((x) => x.length > 0), 60_000);
    await until('A revoked', () => a.m.revoked.length > 0);
    await sleep(1000);
    producing = false;
    await writer;
    await until('every record', () => new Set([...a.m.batches, ...b.m.batches].flatMap((x) => x.messages.map((r) => r.value!.toString()))).size >= produced, 60_000);
    const values = [...a.m.batches, ...b.m.batches].flatMap((x) => x.messages.map((r) => Number(r.value!.toString())));
    expect(new Set(values).size).toBe(produced);
    // Revocation waited for A's work and A committed it: B started where A stopped, nothing twice.
    expect(values.length).toBe(produced);
    expect(a.m.revoked.flat().length).toBeGreaterThan(0);
  });

  it('reads exact ranges, including one that ends on a transaction marker, and skips aborted records when reading committed', async () => {
    const t = await topic('range', 1);
    const p = await producer();
    await p.send(Array.from({ length: 30 }, (_, i) => ({ topic: t, key: null, value: `v${i}` })));
    const tx = await producer(client, { transactionalId: `t-rdk-tx-${id()}` });
    const committed = await tx.transaction();
    await committed.send(Array.from({ length: 5 }, (_, i) => ({ topic: t, key: null, value: `c${i}` })));
    await committed.commit();
    const aborted = await tx.transaction();
    await aborted.send(Array.from({ length: 3 }, (_, i) => ({ topic: t, key: null, value: `a${i}` })));
    await aborted.abort();
    const last = await tx.transaction();
    await last.send([{ topic: t, key: null, value: 'l0' }]);
    await last.commit();
    // Offsets: 0-29 plain, 30-34 committed, 35 marker, 36-38 aborted, 39 marker, 40 committed, 41 marker (at the end).
    let high = 0;
    for (let i = 0; i < 50 && high < 42; i++) {
      high = (await admin.watermarks(t))[0]!.high;
      if (high < 42) await sleep(100);
    }
    expect(high).toBe(42);
    const read = async (start: number, end: number, readCommitted: boolean): Promise<{ values: string[]; nexts: number[] }> => {
      const reader = await client.rangeReader({ topic: t, groupId: `t-rdk-r-${id()}`, maxBytesPerPartition: 1 << 20, readCommitted });
      try {
        const out = { values: [] as string[], nexts: [] as number[] };
        await reader.read(0, start, end, async (b, next) => {
          out.values.push(...b.messages.map((m) => m.value!.toString()));
          out.nexts.push(next);
        });
        return out;
      } finally {
        await reader.close();
      }
    };
    const plain = await read(5, 20, true);
    expect(plain.values).toEqual(Array.from({ length: 15 }, (_, i) => `v${i + 5}`));
    expect(plain.nexts.at(-1)).toBe(20);
    const toMarker = await read(28, 36, true);
    expect(toMarker.values).toEqual(['v28', 'v29', 'c0', 'c1', 'c2', 'c3', 'c4']);
    expect(toMarker.nexts.at(-1)).toBe(36);
    const toEnd = await read(33, 42, true);
    expect(toEnd.values).toEqual(['c3', 'c4', 'l0']);
    expect(toEnd.nexts.at(-1)).toBe(42);
    const uncommitted = await read(33, 42, false);
    expect(uncommitted.values).toEqual(['c3', 'c4', 'a0', 'a1', 'a2', 'l0']);
  });

  it('reports a range whose records retention deleted as gone', async () => {
    const t = await topic('gone', 1);
    const p = await producer();
    await p.send(Array.from({ length: 20 }, (_, i) => ({ topic: t, key: null, value: `v${i}` })));
    const native = rd!.AdminClient.create({ 'bootstrap.servers': brokers.join(',') }) as unknown as {
      deleteRecords(o: { topic: string; partition: number; offset: number }[], opts: { timeout: number }, cb: (err: unknown) => void): void;
      disconnect(): void;
    };
    await new Promise<void>((resolve, reject) => native.deleteRecords([{ topic: t, partition: 0, offset: 10 }], { timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    native.disconnect();
    const reader = await client.rangeReader({ topic: t, groupId: `t-rdk-r-${id()}`, maxBytesPerPartition: 1 << 20, readCommitted: true });
    closers.push(() => reader.close());
    const err = await reader.read(0, 5, 15, async () => undefined).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RangeGoneError);
    expect((err as Error).message).toMatch(/offsets 5 to 9 are no longer in the log/);
    const values: string[] = [];
    await reader.read(0, 10, 15, async (b) => void values.push(...b.messages.map((m) => m.value!.toString())));
    expect(values).toEqual(['v10', 'v11', 'v12', 'v13', 'v14']);
  });

  it('commits consumed offsets inside a transaction with the consumer group metadata', async () => {
    const src = await topic('eos-src', 1);
    const out = await topic('eos-out', 1);
    const g = group();
    const p = await producer();
    await p.send(Array.from({ length: 10 }, (_, i) => ({ topic: src, key: null, value: `v${i}` })));
    const tx = await producer(client, { transactionalId: `t-rdk-tx-${id()}` });
    const m = await member(src, g);
    await until('the records', () => count(m.batches) >= 10);
    const txn = await tx.transaction();
    await txn.send(m.batches.flatMap((b) => b.messages.map((r) => ({ topic: out, key: null, value: `out-${r.value!.toString()}` }))));
    await txn.sendOffsets(g, [{ topic: src, partition: 0, offset: '10' }], m.consumer);
    await txn.commit();
    expect(await admin.committedOffsets(g, src)).toEqual([{ partition: 0, offset: 10 }]);
    // Without the consumer, only the group id goes along.
    const other = group();
    const txn2 = await tx.transaction();
    await txn2.sendOffsets(other, [{ topic: src, partition: 0, offset: '3' }]);
    await txn2.commit();
    expect(await admin.committedOffsets(other, src)).toEqual([{ partition: 0, offset: 3 }]);
  });

  describe.skipIf(secure === undefined)('on the secured listeners', () => {
    const sasl = (user: string, password: string): KafkaConnection => ({
      client: 'librdkafka',
      brokers: secure!.saslSslBrokers.split(','),
      clientId: 'kscore-rdk-test',
      tls: { caFile: secure!.caFile, verifyHostname: true },
      sasl: { mechanism: 'scram-sha-512', username: user, password },
    });

    it('talks SASL_SSL with SCRAM-SHA-512, trusting the stack CA', async () => {
      const c = await createKafkaClient(sasl(secure!.user, secure!.password), log);
      const t = await topic('sasl', 1);
      const p = await producer(c);
      await p.send([{ topic: t, key: 'k', value: 'over TLS' }]);
      const m = await member(t, group(), {}, c);
      await until('the record', () => count(m.batches) >= 1);
      expect(m.batches.flatMap((b) => b.messages)[0]!.value!.toString()).toBe('over TLS');
      const secureAdmin = await c.admin();
      expect(await secureAdmin.partitions(t)).toEqual([0]);
      await secureAdmin.close();
    });

    it('a topic the ACLs refuse fails its records with a DeliveryError; the others are delivered', async () => {
      const c = await createKafkaClient(sasl(secure!.deniedUser, secure!.deniedPassword), log);
      const ok = await topic('ok', 1);
      const denied = await topic('x', 1, `${secure!.deniedTopicPrefix}rdk-${id()}`);
      const p = await producer(c);
      const err = await p
        .send([
          { topic: ok, key: null, value: 'a' },
          { topic: denied, key: null, value: 'b' },
          { topic: ok, key: null, value: 'c' },
        ])
        .then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(DeliveryError);
      expect((err as DeliveryError).failures.map((f) => [f.index, f.error.code])).toEqual([[1, 'KAFKA_AUTHORIZATION']]);
      expect((err as DeliveryError).message).toMatch(/ACL/);
      expect((await admin.watermarks(ok))[0]!.high).toBe(2);
    });

    it('a group member the ACLs refuse its topic fails, once, with KAFKA_AUTHORIZATION', async () => {
      const c = await createKafkaClient(sasl(secure!.deniedUser, secure!.deniedPassword), log);
      const denied = await topic('x', 1, `${secure!.deniedTopicPrefix}rdk-${id()}`);
      const failures: KafkaError[] = [];
      const m = await member(denied, group(), { failed: (e) => failures.push(e) }, c);
      await until('the failure', () => failures.length > 0);
      expect(m.consumer.health()).toMatchObject({ ok: false, detail: expect.stringMatching(/^failed: .*authorization failed/i) });
      // Once stopped the consumer reports nothing more: what it reported until then is all.
      await m.consumer.stop();
      expect(failures.map((e) => e.code)).toEqual(['KAFKA_AUTHORIZATION']);
    });

    it('a wrong password is one KafkaError KAFKA_AUTHENTICATION, not an endless retry', async () => {
      const c = await createKafkaClient(sasl(secure!.user, 'wrong-password'), log);
      const started = Date.now();
      for (const attempt of [() => c.producer(), () => c.admin(), () => c.groupConsumer({ groupId: group(), topics: ['t-rdk-none'], fromBeginning: true, sessionTimeoutMs: 10_000, maxBytesPerPartition: 1 << 20, partitionsConcurrently: 1, readCommitted: true }).run({ batch: async () => undefined, assigned: () => undefined, revoked: async () => undefined, failed: () => undefined })]) {
        const err = await attempt().then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(KafkaError);
        expect((err as KafkaError).code).toBe('KAFKA_AUTHENTICATION');
        expect((err as KafkaError).canRetry).toBe(false);
        expect((err as KafkaError).message).toMatch(/SASL authentication error|[Aa]uthentication failed/);
      }
      expect(Date.now() - started).toBeLessThan(20_000);
    });
  });
});
