import { describe, expect, it } from 'vitest';
import { KafkaError } from '../../../src/kafka/errors.js';
import { codeOfText, fromLibrdkafka, isQueueFull } from '../../../src/kafka/librdkafka/errors.js';

const native = (code: number, message: string, extra: object = {}): object => ({ code, message, errno: code, origin: code < 0 ? 'local' : 'kafka', ...extra });

describe('librdkafka errors in the service terms', () => {
  it.each([
    [-169, 'Local: Authentication failure', 'KAFKA_AUTHENTICATION', false],
    [58, 'Broker: SASL authentication failed', 'KAFKA_AUTHENTICATION', false],
    [-181, 'Local: SSL error', 'KAFKA_AUTHENTICATION', false],
    [29, 'Broker: Topic authorization failed', 'KAFKA_AUTHORIZATION', false],
    [30, 'Broker: Group authorization failed', 'KAFKA_AUTHORIZATION', false],
    [53, 'Broker: Transactional Id authorization failed', 'KAFKA_AUTHORIZATION', false],
    [3, 'Broker: Unknown topic or partition', 'KAFKA_UNKNOWN_TOPIC', false],
    [-190, 'Local: Unknown partition', 'KAFKA_UNKNOWN_TOPIC', false],
    [10, 'Broker: Message size too large', 'KAFKA_RECORD_TOO_LARGE', false],
    [-144, 'Local: This instance has been fenced by a newer instance', 'KAFKA_FENCED', false],
    [90, 'Broker: Producer fenced', 'KAFKA_FENCED', false],
    [40, 'Broker: Configuration is invalid', 'KAFKA_INVALID_CONFIG', false],
    [-195, 'Local: Broker transport failure', 'KAFKA_UNAVAILABLE', true],
    [-187, 'Local: All broker connections are down', 'KAFKA_UNAVAILABLE', true],
    [-185, 'Local: Timed out', 'KAFKA_UNAVAILABLE', true],
    [-192, 'Local: Message timed out', 'KAFKA_UNAVAILABLE', true],
    [-184, 'Local: Queue full', 'KAFKA_UNAVAILABLE', true],
    [6, 'Broker: Not leader for partition', 'KAFKA_UNAVAILABLE', true],
    [15, 'Broker: Coordinator not available', 'KAFKA_UNAVAILABLE', true],
    [68, 'Broker: The group is not empty', 'KAFKA_ERROR', false],
  ])('code %i (%s) is %s, retriable: %s', (code, message, expected, retriable) => {
    const e = fromLibrdkafka(native(code, message), 'producing to t');
    expect(e).toBeInstanceOf(KafkaError);
    expect(e.code).toBe(expected);
    expect(e.canRetry).toBe(retriable);
    expect(e.message).toContain(`producing to t: ${message} [${code}]`);
  });

  it('appends what to check (the hints of kafkaError) and librdkafka detail', () => {
    const e = fromLibrdkafka(native(29, 'Broker: Topic authorization failed'), 'producing to denied-x', 'more detail');
    expect(e.message).toMatch(/producing to denied-x: Broker: Topic authorization failed \[29\] \(more detail\) \(.*ACL.*\)/);
  });

  it('never retries a fatal error, whatever its code', () => {
    const e = fromLibrdkafka(native(-150, 'Local: Fatal error', { isFatal: true }));
    expect(e.canRetry).toBe(false);
  });

  it('retries what librdkafka marks retriable', () => {
    expect(fromLibrdkafka(native(-1000, 'something new', { isRetriable: true })).canRetry).toBe(true);
  });

  it('classifies event.error texts, which carry no code (-1)', () => {
    expect(fromLibrdkafka(native(-1, 'authentication failure')).code).toBe('KAFKA_AUTHENTICATION');
    expect(fromLibrdkafka(native(-1, 'all broker connections are down')).code).toBe('KAFKA_UNAVAILABLE');
    expect(codeOfText('sasl_ssl://127.0.0.1:19094/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512')).toBe('KAFKA_AUTHENTICATION');
    expect(codeOfText('SSL handshake failed: error:0A000086:SSL routines::certificate verify failed')).toBe('KAFKA_AUTHENTICATION');
    expect(codeOfText('Connect to ipv4#127.0.0.1:1 failed: Connection refused')).toBe('KAFKA_UNAVAILABLE');
    expect(codeOfText('something else')).toBeUndefined();
  });

  it('keeps a KafkaError as it is and maps plain errors by their text', () => {
    const k = new KafkaError('KAFKA_FENCED', 'x');
    expect(fromLibrdkafka(k)).toBe(k);
    expect(fromLibrdkafka(new Error('Producer not connected')).code).toBe('KAFKA_ERROR');
  });

  it('tells a full queue (backpressure) apart', () => {
    expect(isQueueFull(native(-184, 'Local: Queue full'))).toBe(true);
    expect(isQueueFull(native(10, 'Broker: Message size too large'))).toBe(false);
    expect(isQueueFull(new Error('x'))).toBe(false);
  });
});
