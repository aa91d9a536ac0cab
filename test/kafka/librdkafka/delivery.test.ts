import { randomBytes } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { DeliveryError, KafkaError } from '../../../src/kafka/errors.js';
import { DeliveryTracker, PendingSend, murmur2, partitionForKey } from '../../../src/kafka/librdkafka/delivery.js';

describe("Kafka's murmur2 partitioner", () => {
  it("matches Java's Utils.murmur2 on its test vectors", () => {
    // From Apache Kafka's UtilsTest.testMurmur2.
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of cases) expect(murmur2(Buffer.from(key))).toBe(hash);
  });

  it("puts keys on the partitions kafkajs' DefaultPartitioner picks", () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 3, 7, 32]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
      for (let i = 0; i < 500; i++) {
        const key = randomBytes(i % 40);
        expect(partitionForKey(key, partitions)).toBe(kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } }));
      }
    }
  });
});

const failure = new KafkaError('KAFKA_AUTHORIZATION', 'refused');

describe('delivery tracking per partition', () => {
  it('settles each send when its last record is reported, in produce order per partition', async () => {
    const tracker = new DeliveryTracker();
    const a = new PendingSend(3);
    const b = new PendingSend(2);
    tracker.produced(a, 't', 0, 0);
    tracker.produced(a, 't', 1, 1);
    tracker.produced(b, 't', 0, 0);
    tracker.produced(a, 't', 0, 2);
    tracker.produced(b, 'u', 0, 1);
    expect(tracker.pending).toBe(5);
    const settled: string[] = [];
    void a.promise.then(() => settled.push('a'));
    void b.promise.then(() => settled.push('b'));
    expect(tracker.reported('t', 1)).toBe(true); // a#1
    expect(tracker.reported('u', 0)).toBe(true); // b#1
    expect(tracker.reported('t', 0)).toBe(true); // a#0
    expect(tracker.reported('t', 0)).toBe(true); // b#0: b done
    await Promise.resolve();
    expect(settled).toEqual(['b']);
    expect(tracker.reported('t', 0)).toBe(true); // a#2: a done
    await a.promise;
    expect(tracker.pending).toBe(0);
    expect(tracker.reported('t', 0)).toBe(false);
    expect(tracker.reported('nope', 3)).toBe(false);
  });

  it('rejects with a DeliveryError listing the failed indices, the others acknowledged', async () => {
    const tracker = new DeliveryTracker();
    const s = new PendingSend(4);
    for (let i = 0; i < 4; i++) tracker.produced(s, 't', i % 2, i);
    tracker.reported('t', 0); // 0
    tracker.reported('t', 1, failure); // 1
    tracker.reported('t', 1, failure); // 3
    tracker.reported('t', 0); // 2
    const err = await s.promise.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    const d = err as DeliveryError;
    expect(d.failures.map((f) => f.index)).toEqual([1, 3]);
    expect(d.code).toBe('KAFKA_AUTHORIZATION');
    expect(d.message).toMatch(/^2 of 4 records not delivered/);
  });

  it('counts records failed before they were produced (a refused topic, a too large record)', async () => {
    const s = new PendingSend(2);
    const tracker = new DeliveryTracker();
    tracker.produced(s, 't', 0, 1);
    s.done(0, failure);
    tracker.reported('t', 0);
    await expect(s.promise).rejects.toMatchObject({ failures: [{ index: 0, error: failure }] });
  });

  it('fails whatever is still waiting when the producer closes', async () => {
    const tracker = new DeliveryTracker();
    const s = new PendingSend(3);
    tracker.produced(s, 't', 0, 0);
    tracker.produced(s, 't', 2, 1);
    tracker.produced(s, 't', 2, 2);
    tracker.reported('t', 2);
    tracker.failAll(failure);
    expect(tracker.pending).toBe(0);
    await expect(s.promise).rejects.toMatchObject({ failures: [{ index: 0 }, { index: 2 }] });
  });

  it('keeps up with many sends on one partition (the FIFO compacts)', async () => {
    const tracker = new DeliveryTracker();
    const sends = Array.from({ length: 3000 }, () => new PendingSend(2));
    for (const s of sends) {
      tracker.produced(s, 't', 0, 0);
      tracker.produced(s, 't', 0, 1);
    }
    for (let i = 0; i < 6000; i++) expect(tracker.reported('t', 0)).toBe(true);
    await Promise.all(sends.map((s) => s.promise));
    expect(tracker.pending).toBe(0);
  });

  it('an empty send is done at once', async () => {
    await new PendingSend(0).promise;
  });
});
