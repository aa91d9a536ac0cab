import type { Kafka, ProducerRecord } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../../../src/kafka/errors.js';
import { KafkajsProducer, approximateSize } from '../../../src/kafka/kafkajs/producer.js';
import type { OutputMessage } from '../../../src/pipeline/types.js';

/** A Kafka client whose producer records what it is asked to send; `failTopic` requests are refused. */
function fakeKafka(failTopic?: string): { kafka: Kafka; requests: ProducerRecord[]; options: unknown[] } {
  const requests: ProducerRecord[] = [];
  const options: unknown[] = [];
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    send: async (r: ProducerRecord) => {
      requests.push(r);
      if (r.topic === failTopic) throw Object.assign(new Error('Broker: Topic authorization failed'), { name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false });
      return [];
    },
  };
  const kafka = { producer: (o: unknown) => (options.push(o), producer) } as unknown as Kafka;
  return { kafka, requests, options };
}

const record = (topic: string, bytes: number): OutputMessage => ({ topic, key: Buffer.from('k'), value: 'x'.repeat(bytes), headers: { h: 'v' } });

describe('the kafkajs producer adapter', () => {
  it('splits a send into requests of one topic under the limits, keeping order, acks=all', async () => {
    const { kafka, requests, options } = fakeKafka();
    const producer = await KafkajsProducer.connect(kafka, {}, { maxBytes: 1000, maxRecords: 256 });
    expect(options[0]).toMatchObject({ idempotent: true, maxInFlightRequests: 1 });
    const records = Array.from({ length: 10 }, (_, i) => record(i === 4 ? 'dlq' : 'preds', 300));
    await producer.send(records);
    // Each record is about 330 bytes: three fit in 1000; the dead letter goes in a request of its own.
    expect(requests.map((r) => [r.topic, r.messages.length])).toEqual([
      ['preds', 3],
      ['preds', 3],
      ['preds', 3],
      ['dlq', 1],
    ]);
    expect(requests.every((r) => r.acks === -1)).toBe(true);
    await producer.send([]);
    expect(requests).toHaveLength(4);
  });

  it('also caps the records per request (kafkajs groups them in quadratic time)', async () => {
    const { kafka, requests } = fakeKafka();
    const producer = await KafkajsProducer.connect(kafka, { idempotent: false }, { maxBytes: 1 << 20, maxRecords: 4 });
    await producer.send(Array.from({ length: 10 }, () => record('preds', 10)));
    expect(requests.map((r) => r.messages.length)).toEqual([4, 4, 2]);
  });

  it('names the records of a refused request, classified, and delivers the others', async () => {
    const { kafka, requests } = fakeKafka('shadow');
    const producer = await KafkajsProducer.connect(kafka, {});
    const err = await producer.send([record('preds', 10), record('shadow', 10), record('preds', 10), record('shadow', 10)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    const d = err as DeliveryError;
    expect(d.failures.map((f) => f.index)).toEqual([1, 3]);
    expect(d.failures[0]!.error.code).toBe('KAFKA_AUTHORIZATION');
    expect(d.canRetry).toBe(false);
    expect(requests.map((r) => r.topic).sort()).toEqual(['preds', 'shadow']);
  });

  it('replaces an idempotent producer whose sequence the broker stopped accepting, and reports its records retriable', async () => {
    const made: { sent: number; disconnected: boolean }[] = [];
    const kafka = {
      producer: () => {
        const state = { sent: 0, disconnected: false };
        made.push(state);
        const first = made.length === 1;
        return {
          connect: async () => undefined,
          disconnect: async () => void (state.disconnected = true),
          send: async (r: ProducerRecord) => {
            state.sent += r.messages.length;
            if (first && r.topic === 'preds') {
              const oos = Object.assign(new Error('The broker received an out of order sequence number'), { name: 'KafkaJSProtocolError', type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', retriable: false });
              throw Object.assign(new Error(oos.message), { name: 'KafkaJSNonRetriableError', cause: oos });
            }
            return [];
          },
        };
      },
    } as unknown as Kafka;
    const producer = await KafkajsProducer.connect(kafka, {});
    const err = (await producer.send([record('preds', 10), record('dlq', 10), record('preds', 10)]).catch((e: unknown) => e)) as DeliveryError;
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.failures.map((f) => f.index)).toEqual([0, 2]);
    expect(err.canRetry).toBe(true);
    expect(err.message).toMatch(/out of order sequence number; a new producer sends it again/);
    expect(made).toHaveLength(2);
    expect(made[0]!.disconnected).toBe(true);
    // The retry goes through the new producer.
    await producer.send([record('preds', 10), record('preds', 10)]);
    expect(made[1]!.sent).toBe(2);
    expect(made).toHaveLength(2);
  });

  it('leaves a transactional producer as it is: its error is not made retriable', async () => {
    const kafka = {
      producer: () => ({
        connect: async () => undefined,
        disconnect: async () => undefined,
        send: async () => {
          throw Object.assign(new Error('out of order'), { name: 'KafkaJSProtocolError', type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', retriable: false });
        },
      }),
    } as unknown as Kafka;
    const producer = await KafkajsProducer.connect(kafka, { transactionalId: 'tx' });
    const err = (await producer.send([record('preds', 10)]).catch((e: unknown) => e)) as DeliveryError;
    expect(err.canRetry).toBe(false);
  });

  it('refuses a compression kafkajs cannot write', async () => {
    const { kafka } = fakeKafka();
    await expect(KafkajsProducer.connect(kafka, { compression: 'zstd' })).rejects.toThrow(/cannot write zstd/);
  });

  it('estimates the size of a record from its key, value and headers', () => {
    expect(approximateSize({ topic: 't', key: Buffer.from('abc'), value: 'é', headers: { a: 'bc', d: [Buffer.from('ef'), 'g'], u: undefined } })).toBe(
      24 + 3 + 2 + (4 + 1 + 2) + (4 + 1 + 2) + (4 + 1 + 1),
    );
  });
});
