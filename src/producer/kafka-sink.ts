import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import type { OutputMessage, Sink } from '../pipeline/types.js';

export interface KafkaSinkOptions {
  /**
   * Idempotent producer (default true): a retried request is not written twice by the broker.
   * kafkajs then sends one request at a time per broker connection.
   */
  idempotent?: boolean;
  /**
   * Most bytes of keys, values and headers in one produce request. kafkajs writes all of a
   * request's messages for one partition as one record batch, which the broker refuses above
   * `message.max.bytes` (1 MiB by default). Default 768 KiB.
   */
  maxRequestBytes?: number;
  /**
   * Most messages in one produce request. kafkajs groups a request's messages by partition in
   * time quadratic in their number, so a few hundred per request is cheaper than thousands.
   * Default 256.
   */
  maxRequestMessages?: number;
}

/**
 * Publishes predictions and dead letters (online and replay). `send` splits a batch into requests
 * the broker accepts, sends them together and resolves only when every message is acknowledged by
 * all in-sync replicas (acks=-1), which is what lets the consumer commit after it. Counts what it
 * wrote per topic.
 */
export class KafkaSink implements Sink {
  private readonly written = new Map<string, number>();

  private constructor(
    private readonly producer: Producer,
    private readonly maxRequestBytes: number,
    private readonly maxRequestMessages: number,
  ) {}

  static async connect(kafka: Kafka, options: KafkaSinkOptions = {}): Promise<KafkaSink> {
    const idempotent = options.idempotent ?? true;
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent,
      ...(idempotent ? { maxInFlightRequests: 1 } : {}),
      // An idempotent producer must retry until it succeeds (kafkajs' advice): the broker drops repeats.
      retry: { retries: idempotent ? Number.MAX_SAFE_INTEGER : 10, initialRetryTime: 100, maxRetryTime: 30_000 },
    });
    await producer.connect();
    return new KafkaSink(producer, options.maxRequestBytes ?? 768 * 1024, options.maxRequestMessages ?? 256);
  }

  async send(messages: readonly OutputMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const requests: Map<string, Message[]>[] = [];
    let current = new Map<string, Message[]>();
    let bytes = 0;
    let count = 0;
    for (const m of messages) {
      const size = approximateSize(m);
      if (count > 0 && (bytes + size > this.maxRequestBytes || count === this.maxRequestMessages)) {
        requests.push(current);
        current = new Map();
        bytes = 0;
        count = 0;
      }
      let list = current.get(m.topic);
      if (list === undefined) current.set(m.topic, (list = []));
      // An output message is a kafkajs Message already (its `topic` is ignored): no copy.
      list.push(m);
      bytes += size;
      count++;
    }
    requests.push(current);
    // Counted per topic and request, not per message: this runs on every batch.
    for (const r of requests) for (const [topic, list] of r) this.written.set(topic, (this.written.get(topic) ?? 0) + list.length);
    await Promise.all(
      requests.map((r) =>
        this.producer.sendBatch({
          topicMessages: [...r].map(([topic, list]) => ({ topic, messages: list })),
          acks: -1,
          compression: CompressionTypes.None,
        }),
      ),
    );
  }

  /** Messages handed to `send` so far on `topic` (acknowledged once their `send` resolved). */
  count(topic: string): number {
    return this.written.get(topic) ?? 0;
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

/** Bytes a message takes in a record batch, near enough (lengths plus varint overhead). */
export function approximateSize(m: OutputMessage): number {
  let size = 24 + (m.key?.length ?? 0) + Buffer.byteLength(m.value);
  // for..in: no entries array per message on the hot path.
  for (const k in m.headers) {
    const v = m.headers[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v) size += headerSize(k, one);
    else size += headerSize(k, v);
  }
  return size;
}

function headerSize(key: string, value: string | Buffer): number {
  return 4 + key.length + (typeof value === 'string' ? Buffer.byteLength(value) : value.length);
}
