import { describe, expect, it, vi } from 'vitest';
import { jsonPredictionEncoder } from '../../src/codec/json.js';
import type { PredictionRecord } from '../../src/codec/types.js';
import { DeliveryError, KAFKA_CODES, KafkaError, type OutgoingRecord, type Producer } from '../../src/kafka/index.js';
import type { BatchOutcomes, SourceMessage } from '../../src/pipeline/types.js';
import { KafkaSink, type KafkaSinkOptions } from '../../src/producer/kafka-sink.js';
import { CONNECT_HEADERS, HEADERS, headerText, readProvenance } from '../../src/producer/provenance.js';

/** A producer that records sends; `refuse` decides, per record, the error the broker gives. */
function fakeProducer(refuse: (r: OutgoingRecord) => KafkaError | undefined = () => undefined) {
  const sends: OutgoingRecord[][] = [];
  const producer: Producer = {
    async send(records) {
      sends.push([...records]);
      const failures = records.flatMap((r, index) => {
        const error = refuse(r);
        return error === undefined ? [] : [{ index, error }];
      });
      if (failures.length > 0) throw new DeliveryError(failures, records.length);
    },
    transaction: () => Promise.reject(new Error('not used')),
    close: async () => undefined,
  };
  return { producer, sends };
}

const source = (offset: number, value = '{"a":1}'): SourceMessage => ({
  key: Buffer.from(`k${offset}`),
  value: Buffer.from(value),
  headers: { trace: 'abc' },
  offset: String(offset),
  timestamp: String(1_700_000_000_000 + offset),
});
const prediction = (version = '3'): PredictionRecord => ({ model: 'churn', version, score: 0.5, label: null, probabilities: null });

function batch(outcomes: BatchOutcomes['outcomes']): BatchOutcomes {
  return { topic: 'features', partition: 2, outcomes };
}

function sink(producer: Producer, options: Partial<KafkaSinkOptions> = {}): KafkaSink {
  return new KafkaSink(producer, { predictionsTopic: 'preds', deadLetterTopic: 'dlq', shadowTopic: 'preds.shadow', encoder: jsonPredictionEncoder, ...options });
}

describe('the Kafka sink', () => {
  it('writes each prediction keyed like its event, with its provenance headers and the event timestamp', async () => {
    const { producer, sends } = fakeProducer();
    await sink(producer).send(batch([{ kind: 'scored', role: 'primary', source: source(41), prediction: prediction() }]));
    const [r] = sends[0]!;
    expect(r).toMatchObject({ topic: 'preds', key: Buffer.from('k41'), timestamp: '1700000000041' });
    expect(JSON.parse(String(r!.value))).toEqual(prediction());
    expect(readProvenance(r!.headers!)).toEqual({ model: 'churn', version: '3', topic: 'features', partition: 2, offset: 41 });
    expect(Object.keys(r!.headers!)).toEqual([HEADERS.model, HEADERS.version, HEADERS.sourceTopic, HEADERS.sourcePartition, HEADERS.sourceOffset]);
  });

  it('in compact form writes one header that reads back the same, and marks replayed predictions', async () => {
    const { producer, sends } = fakeProducer();
    await sink(producer, { provenance: 'compact', replayJobId: 'job-7' }).send(batch([{ kind: 'scored', role: 'canary', source: source(9), prediction: prediction('12') }]));
    const h = sends[0]![0]!.headers!;
    expect(Object.keys(h)).toEqual([HEADERS.provenance, HEADERS.replayJob]);
    expect(headerText(h[HEADERS.provenance])).toBe('churn:12@features:2:9');
    expect(readProvenance(h)).toEqual({ model: 'churn', version: '12', topic: 'features', partition: 2, offset: 9 });
    expect(headerText(h[HEADERS.replayJob])).toBe('job-7');
  });

  it("marks a replay's dead letters with its job too", async () => {
    const { producer, sends } = fakeProducer();
    await sink(producer, { replayJobId: 'job-8' }).send(batch([{ kind: 'dead-letter', source: source(5, '{"bad'), reason: 'decode-error', detail: 'value is not JSON' }]));
    expect(headerText(sends[0]![0]!.headers![HEADERS.replayJob])).toBe('job-8');
    await sink(producer).send(batch([{ kind: 'dead-letter', source: source(6, '{"bad'), reason: 'decode-error', detail: 'value is not JSON' }]));
    expect(sends[1]![0]!.headers![HEADERS.replayJob]).toBeUndefined();
  });

  it("writes a dead letter as the original record plus the reason, in the service's and Kafka Connect's headers", async () => {
    const { producer, sends } = fakeProducer();
    await sink(producer).send(batch([{ kind: 'dead-letter', source: source(5, '{"bad'), reason: 'decode-error', detail: 'value is not JSON' }]));
    const r = sends[0]![0]!;
    expect(r).toMatchObject({ topic: 'dlq', key: Buffer.from('k5'), value: Buffer.from('{"bad'), timestamp: '1700000000005' });
    const text = Object.fromEntries(Object.entries(r.headers!).map(([k, v]) => [k, headerText(v)]));
    expect(text).toEqual({
      trace: 'abc',
      [HEADERS.dlqReason]: 'decode-error',
      [HEADERS.dlqDetail]: 'value is not JSON',
      [HEADERS.sourceTopic]: 'features',
      [HEADERS.sourcePartition]: '2',
      [HEADERS.sourceOffset]: '5',
      [CONNECT_HEADERS.topic]: 'features',
      [CONNECT_HEADERS.partition]: '2',
      [CONNECT_HEADERS.offset]: '5',
      [CONNECT_HEADERS.exceptionClass]: 'kscore.PoisonEventError',
      [CONNECT_HEADERS.exceptionMessage]: 'decode-error: value is not JSON',
    });
  });

  it('cuts a dead letter over the limit, saying so and giving the original size', async () => {
    const { producer, sends } = fakeProducer();
    await sink(producer, { deadLetterMaxBytes: 10 }).send(batch([{ kind: 'dead-letter', source: source(1, 'x'.repeat(25)), reason: 'decode-error', detail: 'd' }]));
    const r = sends[0]![0]!;
    expect(String(r.value)).toBe('x'.repeat(10));
    expect(headerText(r.headers![HEADERS.dlqTruncated])).toBe('true');
    expect(headerText(r.headers![HEADERS.dlqOriginalSize])).toBe('25');
  });

  it('halves a dead letter the broker finds too large until it fits, and sends it again alone', async () => {
    const limit = 300;
    const { producer, sends } = fakeProducer((r) => (Buffer.byteLength(r.value) > limit ? new KafkaError(KAFKA_CODES.recordTooLarge, 'too large') : undefined));
    await sink(producer).send(
      batch([
        { kind: 'scored', role: 'primary', source: source(1), prediction: prediction() },
        { kind: 'dead-letter', source: source(2, 'y'.repeat(1000)), reason: 'decode-error', detail: 'd' },
      ]),
    );
    expect(sends.map((s) => s.length)).toEqual([2, 1, 1]);
    const last = sends[2]![0]!;
    expect(Buffer.byteLength(last.value)).toBe(250);
    expect(headerText(last.headers![HEADERS.dlqOriginalSize])).toBe('1000');
  });

  it('rethrows what it cannot fix: a refused prediction fails the send', async () => {
    const { producer } = fakeProducer((r) => (r.topic === 'preds' ? new KafkaError(KAFKA_CODES.authorization, 'denied') : undefined));
    await expect(sink(producer).send(batch([{ kind: 'scored', role: 'primary', source: source(1), prediction: prediction() }]))).rejects.toBeInstanceOf(DeliveryError);
  });

  it('writes shadow predictions in a send of their own; a refused shadow topic is counted, never thrown', async () => {
    const { producer, sends } = fakeProducer((r) => (r.topic === 'preds.shadow' ? new KafkaError(KAFKA_CODES.unknownTopic, 'no such topic') : undefined));
    const failed = vi.fn();
    const s = sink(producer, { onShadowFailure: failed });
    await s.send(batch([{ kind: 'scored', role: 'primary', source: source(1), prediction: prediction('1'), shadow: prediction('2') }]));
    expect(sends.map((x) => x.map((r) => r.topic)).sort()).toEqual([['preds'], ['preds.shadow']]);
    await vi.waitFor(() => expect(failed).toHaveBeenCalledWith(prediction('2').model, 1, expect.stringContaining('no such topic')));
    expect(s.count('preds')).toBe(1);
  });

  it('drops (and counts) shadow records while too many shadow sends are in flight; the predictions still go', async () => {
    const hung: OutgoingRecord[][] = [];
    const producer: Producer = {
      send: (records) => {
        if (records[0]!.topic === 'preds.shadow') {
          hung.push([...records]);
          return new Promise<void>(() => undefined);
        }
        return Promise.resolve();
      },
      transaction: () => Promise.reject(new Error('not used')),
      close: async () => undefined,
    };
    const failed = vi.fn();
    const s = sink(producer, { maxShadowSendsInFlight: 2, onShadowFailure: failed });
    for (let i = 0; i < 3; i++) await s.send(batch([{ kind: 'scored', role: 'primary', source: source(i), prediction: prediction(), shadow: prediction('2') }]));
    expect(hung).toHaveLength(2);
    expect(failed).toHaveBeenCalledExactlyOnceWith(prediction('2').model, 1, 'shadow sends backed up');
    expect(s.count('preds')).toBe(3);
  });

  it('sends shadow predictions through their own producer when given one, made once', async () => {
    const main = fakeProducer();
    const shadow = fakeProducer();
    const make = vi.fn(async () => shadow.producer);
    const s = sink(main.producer, { shadowProducer: make });
    for (let i = 0; i < 3; i++) await s.send(batch([{ kind: 'scored', role: 'primary', source: source(i), prediction: prediction('1'), shadow: prediction('2') }]));
    await vi.waitFor(() => expect(shadow.sends).toHaveLength(3));
    expect(make).toHaveBeenCalledTimes(1);
    expect(main.sends.flat().map((r) => r.topic)).toEqual(['preds', 'preds', 'preds']);
    expect(shadow.sends.flat().map((r) => r.topic)).toEqual(['preds.shadow', 'preds.shadow', 'preds.shadow']);
  });
});
