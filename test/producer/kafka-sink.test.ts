import type { Kafka, ProducerBatch } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { OutputMessage } from '../../src/pipeline/types.js';
import { KafkaSink, approximateSize } from '../../src/producer/kafka-sink.js';

/** A Kafka client whose producer records what it is asked to send. */
function fakeKafka(): { kafka: Kafka; batches: ProducerBatch[]; options: unknown[] } {
  const batches: ProducerBatch[] = [];
  const options: unknown[] = [];
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    sendBatch: async (b: ProducerBatch) => {
      batches.push(b);
      return [];
    },
  };
  const kafka = { producer: (o: unknown) => (options.push(o), producer) } as unknown as Kafka;
  return { kafka, batches, options };
}

const message = (topic: string, bytes: number): OutputMessage => ({ topic, key: Buffer.from('k'), value: 'x'.repeat(bytes), headers: { h: 'v' } });

describe('the chunked Kafka sink', () => {
  it('splits a large send into requests under the limit, keeping order, and counts per topic', async () => {
    const { kafka, batches, options } = fakeKafka();
    const sink = await KafkaSink.connect(kafka, { maxRequestBytes: 1000 });
    expect(options[0]).toMatchObject({ idempotent: true, maxInFlightRequests: 1 });
    const messages = Array.from({ length: 10 }, (_, i) => message(i === 4 ? 'dlq' : 'preds', 300));
    await sink.send(messages);
    // Each message is about 330 bytes: three fit in 1000.
    expect(batches.map((b) => b.topicMessages!.reduce((s, t) => s + t.messages.length, 0))).toEqual([3, 3, 3, 1]);
    expect(batches.every((b) => b.acks === -1)).toBe(true);
    const sent = batches.flatMap((b) => b.topicMessages!.flatMap((t) => t.messages.map((m) => ({ topic: t.topic, m }))));
    expect(sent.filter((s) => s.topic === 'dlq')).toHaveLength(1);
    expect(sink.count('preds')).toBe(9);
    expect(sink.count('dlq')).toBe(1);
    await sink.send([]);
    expect(batches).toHaveLength(4);
  });

  it('also caps the messages per request (kafkajs groups them in quadratic time)', async () => {
    const { kafka, batches } = fakeKafka();
    const sink = await KafkaSink.connect(kafka, { maxRequestMessages: 4, idempotent: false });
    await sink.send(Array.from({ length: 10 }, () => message('preds', 10)));
    expect(batches.map((b) => b.topicMessages![0]!.messages.length)).toEqual([4, 4, 2]);
  });

  it('estimates the size of a message from its key, value and headers', () => {
    expect(approximateSize({ topic: 't', key: Buffer.from('abc'), value: 'é', headers: { a: 'bc', d: [Buffer.from('ef'), 'g'], u: undefined } })).toBe(
      24 + 3 + 2 + (4 + 1 + 2) + (4 + 1 + 2) + (4 + 1 + 1),
    );
  });
});
