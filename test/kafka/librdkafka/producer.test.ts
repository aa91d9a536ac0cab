import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../../../src/kafka/errors.js';
import { partitionForKey } from '../../../src/kafka/librdkafka/delivery.js';
import type { NativeModule } from '../../../src/kafka/librdkafka/native.js';
import { LibrdkafkaProducer } from '../../../src/kafka/librdkafka/producer.js';
import type { OutgoingRecord } from '../../../src/kafka/types.js';

interface Produced {
  topic: string;
  partition: number;
  value: Buffer | null;
  key: Buffer | string | null;
  timestamp: number | null;
  opaque: unknown;
  headers: unknown;
}

/** A fake of the binding's Producer: records produce calls, reports deliveries when told, refuses when full. */
function fakeNative(topics: Record<string, number | { code: number; message: string }>) {
  const produced: Produced[] = [];
  const configs: unknown[] = [];
  const state = { queueFullFor: 0, failOffsets: new Set<number>(), initialised: 0 };
  let listener: ((err: unknown, r: { topic: string; partition: number; offset: number }) => void) | undefined;
  let reported = 0;
  class Producer {
    constructor(config: unknown, topicConfig: unknown) {
      configs.push(config, topicConfig);
    }
    on(event: string, l: typeof listener): this {
      if (event === 'delivery-report') listener = l;
      return this;
    }
    connect(_o: unknown, cb: (err: null) => void): void {
      setImmediate(() => cb(null));
    }
    setPollInBackground(): void {}
    initTransactions(_t: number, cb: (err: null) => void): void {
      state.initialised++;
      setImmediate(() => cb(null));
    }
    produce(topic: string, partition: number, value: Buffer | null, key: Buffer | string | null, timestamp: number | null, opaque: unknown, headers: unknown): void {
      if (state.queueFullFor > 0) {
        state.queueFullFor--;
        throw Object.assign(new Error('Local: Queue full'), { code: -184 });
      }
      produced.push({ topic, partition, value, key, timestamp, opaque, headers });
    }
    disconnect(_t: number, cb: () => void): void {
      setImmediate(cb);
    }
  }
  const rd = {
    Producer,
    AdminClient: {
      createFrom: () => ({
        describeTopics: (names: string[], _o: unknown, cb: (err: null, r: unknown[]) => void) =>
          setImmediate(() =>
            cb(
              null,
              names.map((name) => {
                const t = topics[name];
                if (t === undefined) return { name, partitions: [], error: { code: 3, message: 'Broker: Unknown topic or partition' } };
                if (typeof t === 'number') return { name, partitions: Array.from({ length: t }, (_, partition) => ({ partition, leader: { id: 1 } })) };
                return { name, partitions: [], error: t };
              }),
            ),
          ),
      }),
    },
  } as unknown as NativeModule;
  /** Reports the next `n` produced records (all of them by default), in produce order. */
  const deliver = (n = produced.length - reported): void => {
    for (let i = 0; i < n; i++) {
      const p = produced[reported]!;
      const err = state.failOffsets.has(reported) ? { code: 10, message: 'Broker: Message size too large' } : null;
      reported++;
      listener!(err, { topic: p.topic, partition: p.partition, offset: reported });
    }
  };
  return { rd, produced, configs, state, deliver };
}

const log = pino({ level: 'silent' });
const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('the librdkafka producer adapter', () => {
  it('configures acks=all, idempotence, murmur2 partitioning, linger and compression', async () => {
    const f = fakeNative({});
    await LibrdkafkaProducer.connect(f.rd, { 'bootstrap.servers': 'b:1' }, { compression: 'zstd' }, log);
    expect(f.configs[0]).toMatchObject({ 'bootstrap.servers': 'b:1', 'enable.idempotence': true, 'compression.codec': 'zstd', 'linger.ms': 5, dr_cb: true, 'allow.auto.create.topics': false });
    expect(f.configs[1]).toEqual({ 'request.required.acks': -1, partitioner: 'murmur2_random' });
    await LibrdkafkaProducer.connect(f.rd, {}, { idempotent: false, lingerMs: 20 }, log);
    expect(f.configs[2]).toMatchObject({ 'enable.idempotence': false, 'max.in.flight.requests.per.connection': 1, 'linger.ms': 20 });
    expect(f.state.initialised).toBe(0);
    await LibrdkafkaProducer.connect(f.rd, {}, { idempotent: false, transactionalId: 'tx' }, log);
    expect(f.configs[4]).toMatchObject({ 'enable.idempotence': true, 'transactional.id': 'tx' });
    // A transactional producer initialises at connect, before any consumer of its group reads.
    expect(f.state.initialised).toBe(1);
  });

  it('picks partitions like Java (keys by murmur2, unkeyed sticky per send), and converts keys, values, headers and timestamps', async () => {
    const f = fakeNative({ t: 5 });
    const producer = await LibrdkafkaProducer.connect(f.rd, {}, {}, log);
    const records: OutgoingRecord[] = [
      { topic: 't', key: 'user-1', value: 'a', headers: { h: 'x', multi: ['1', Buffer.from('2')], skip: undefined }, timestamp: '1700000000123' },
      { topic: 't', key: Buffer.from('user-2'), value: Buffer.from('b') },
      { topic: 't', key: null, value: 'c' },
      { topic: 't', key: null, value: 'd' },
      { topic: 't', key: 'user-1', value: 'e', partition: 4 },
    ];
    const sent = producer.send(records);
    await until(() => f.produced.length === 5);
    const [a, b, c, d, e] = f.produced;
    expect(a).toMatchObject({ partition: partitionForKey(Buffer.from('user-1'), 5), key: Buffer.from('user-1'), value: Buffer.from('a'), timestamp: 1700000000123, opaque: null });
    expect(a!.headers).toEqual([{ h: 'x' }, { multi: '1' }, { multi: Buffer.from('2') }]);
    expect(b).toMatchObject({ partition: partitionForKey(Buffer.from('user-2'), 5), timestamp: null, headers: undefined });
    expect(c!.partition).toBe(d!.partition);
    expect(e!.partition).toBe(4);
    f.deliver();
    await sent;
  });

  it('waits out a full queue and keeps the order of sends', async () => {
    const f = fakeNative({ t: 1 });
    const producer = await LibrdkafkaProducer.connect(f.rd, {}, {}, log);
    const recs = (tag: string): OutgoingRecord[] => Array.from({ length: 4 }, (_, i) => ({ topic: 't', key: 'k', value: `${tag}${i}` }));
    const first = producer.send(recs('a'));
    await until(() => f.produced.length === 4);
    f.state.queueFullFor = 3;
    const second = producer.send(recs('b'));
    const third = producer.send(recs('c'));
    f.deliver(2); // deliveries make room
    await until(() => f.produced.length === 12);
    expect(f.produced.map((p) => p.value!.toString())).toEqual(['a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'b3', 'c0', 'c1', 'c2', 'c3']);
    f.deliver();
    await Promise.all([first, second, third]);
  });

  it('a refused topic fails its records only; the rest is acknowledged', async () => {
    const f = fakeNative({ ok: 3, 'denied-x': { code: 29, message: 'Broker: Topic authorization failed' } });
    const producer = await LibrdkafkaProducer.connect(f.rd, {}, {}, log);
    const sent = producer.send([
      { topic: 'ok', key: 'a', value: '1' },
      { topic: 'denied-x', key: 'b', value: '2' },
      { topic: 'ok', key: 'c', value: '3' },
      { topic: 'denied-x', key: 'd', value: '4' },
    ]);
    await until(() => f.produced.length === 2);
    f.deliver();
    const err = await sent.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).failures.map((x) => [x.index, x.error.code])).toEqual([
      [1, 'KAFKA_AUTHORIZATION'],
      [3, 'KAFKA_AUTHORIZATION'],
    ]);
    expect(f.produced.map((p) => p.topic)).toEqual(['ok', 'ok']);
  });

  it('a record the broker refuses fails with its mapped error, by index', async () => {
    const f = fakeNative({ t: 2 });
    const producer = await LibrdkafkaProducer.connect(f.rd, {}, {}, log);
    f.state.failOffsets.add(1);
    const sent = producer.send([0, 1, 2].map((i) => ({ topic: 't', key: `k${i}`, value: 'v' })));
    await until(() => f.produced.length === 3);
    f.deliver();
    await expect(sent).rejects.toMatchObject({ failures: [{ index: 1, error: { code: 'KAFKA_RECORD_TOO_LARGE' } }] });
  });

  it('fails what was never acknowledged when it closes, and refuses sends afterwards', async () => {
    const f = fakeNative({ t: 1 });
    const producer = await LibrdkafkaProducer.connect(f.rd, {}, {}, log);
    const sent = producer.send([{ topic: 't', key: null, value: 'x' }]);
    await until(() => f.produced.length === 1);
    await producer.close();
    await expect(sent).rejects.toBeInstanceOf(DeliveryError);
    await expect(producer.send([{ topic: 't', key: null, value: 'x' }])).rejects.toThrow(/closed/);
  });
});
