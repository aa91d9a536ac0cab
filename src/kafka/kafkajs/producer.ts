import { CompressionTypes, Partitioners, type Kafka, type Message, type ProducerConfig, type Producer as KjsProducer, type Transaction as KjsTransaction } from 'kafkajs';
import { DeliveryError, KAFKA_CODES, KafkaError } from '../errors.js';
import type { Compression, OutgoingRecord, Producer, ProducerOptions, TopicPartitionOffset, Transaction } from '../types.js';
import { fromKafkajs, producerStateLost } from './errors.js';
import { byTopic } from './offsets.js';

/**
 * Most bytes of keys, values and headers in one produce request. kafkajs writes all of a
 * request's records for one partition as one record batch, which the broker refuses above
 * `message.max.bytes` (1 MiB by default).
 */
const MAX_REQUEST_BYTES = 768 * 1024;
/** kafkajs groups a request's records by partition in time quadratic in their number. */
const MAX_REQUEST_RECORDS = 256;

export interface RequestLimits {
  maxBytes: number;
  maxRecords: number;
}

const CODECS: Partial<Record<Compression, CompressionTypes>> = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP };

interface Request {
  topic: string;
  messages: Message[];
  /** Index in the `send` call of each message. */
  indices: number[];
}

/** Anything that sends one topic's messages: the producer, or an open transaction. */
type SendTarget = Pick<KjsProducer, 'send'>;

/**
 * The producer port over kafkajs. A `send` is split into requests of one topic each that the
 * broker accepts, sent together, each acknowledged by all in-sync replicas (acks=-1); a request
 * that fails fails only its own records, which the `DeliveryError` lists. An idempotent producer
 * whose sequence the broker stopped accepting is replaced by a new one, and its failed records
 * are reported retriable: sent again, they may be written twice (at-least-once), never lost.
 */
export class KafkajsProducer implements Producer {
  private renewing: Promise<void> | undefined;

  private constructor(
    private readonly kafka: Kafka,
    private readonly config: ProducerConfig,
    private producer: KjsProducer,
    private readonly compression: CompressionTypes,
    private readonly limits: RequestLimits,
  ) {}

  static async connect(
    kafka: Kafka,
    options: ProducerOptions,
    limits: RequestLimits = { maxBytes: MAX_REQUEST_BYTES, maxRecords: MAX_REQUEST_RECORDS },
  ): Promise<KafkajsProducer> {
    const codec = CODECS[options.compression ?? 'none'];
    if (codec === undefined) throw new KafkaError(KAFKA_CODES.invalidConfig, `kafkajs cannot write ${options.compression} compression (it writes none and gzip)`);
    const idempotent = options.idempotent ?? true;
    const config: ProducerConfig = {
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: idempotent || options.transactionalId !== undefined,
      ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
      // kafkajs keeps order with idempotence only with one request in flight per broker.
      ...(idempotent ? { maxInFlightRequests: 1 } : {}),
      // An idempotent producer must retry until it succeeds (kafkajs' advice): the broker drops repeats.
      retry: { retries: idempotent ? Number.MAX_SAFE_INTEGER : 10, initialRetryTime: 100, maxRetryTime: 30_000 },
    };
    const producer = kafka.producer(config);
    try {
      await producer.connect();
    } catch (err) {
      throw fromKafkajs(err, 'connecting the producer');
    }
    return new KafkajsProducer(kafka, config, producer, codec, limits);
  }

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    const producer = this.producer;
    try {
      await sendAll(producer, records, this.compression, this.limits);
    } catch (err) {
      if (!(err instanceof DeliveryError) || this.config.transactionalId !== undefined || !err.failures.some((f) => producerStateLost(f.error.cause))) throw err;
      await this.renew(producer);
      const failures = err.failures.map((f) =>
        producerStateLost(f.error.cause) ? { index: f.index, error: new KafkaError(KAFKA_CODES.unavailable, `${f.error.message}; a new producer sends it again`, { cause: f.error, canRetry: true }) } : f,
      );
      throw new DeliveryError(failures, records.length);
    }
  }

  /** Replaces `broken` by a new producer (a new producer id), once however many sends saw it fail. */
  private async renew(broken: KjsProducer): Promise<void> {
    if (this.producer !== broken) return;
    this.renewing ??= (async () => {
      const fresh = this.kafka.producer(this.config);
      await fresh.connect();
      this.producer = fresh;
      void broken.disconnect().catch(() => undefined);
    })().finally(() => (this.renewing = undefined));
    // A producer that cannot connect yet is made again at the next failure.
    await this.renewing.catch(() => undefined);
  }

  async transaction(): Promise<Transaction> {
    let txn: KjsTransaction;
    try {
      txn = await this.producer.transaction();
    } catch (err) {
      throw fromKafkajs(err, 'beginning a transaction');
    }
    const { compression, limits } = this;
    const guard = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        throw fromKafkajs(err, what);
      }
    };
    return {
      send: (records) => sendAll(txn, records, compression, limits),
      sendOffsets: (groupId: string, offsets: readonly TopicPartitionOffset[]) =>
        guard('adding offsets to the transaction', () => txn.sendOffsets({ consumerGroupId: groupId, topics: byTopic(offsets) })),
      commit: () => guard('committing the transaction', () => txn.commit()),
      abort: () => guard('aborting the transaction', () => txn.abort()),
    };
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

async function sendAll(target: SendTarget, records: readonly OutgoingRecord[], compression: CompressionTypes, limits: RequestLimits): Promise<void> {
  if (records.length === 0) return;
  const requests = split(records, limits);
  const results = await Promise.allSettled(requests.map((r) => target.send({ topic: r.topic, messages: r.messages, acks: -1, compression })));
  let failures: { index: number; error: KafkaError }[] | undefined;
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') return;
    const error = fromKafkajs(result.reason, `producing to ${requests[i]!.topic}`);
    for (const index of requests[i]!.indices) (failures ??= []).push({ index, error });
  });
  if (failures !== undefined) throw new DeliveryError(failures, records.length);
}

/** Requests of one topic each, within the size and count limits, records in their given order. */
function split(records: readonly OutgoingRecord[], limits: RequestLimits): Request[] {
  const open = new Map<string, Request & { bytes: number }>();
  const done: Request[] = [];
  for (let i = 0; i < records.length; i++) {
    const m = records[i]!;
    const size = approximateSize(m);
    let r = open.get(m.topic);
    if (r !== undefined && (r.bytes + size > limits.maxBytes || r.messages.length === limits.maxRecords)) {
      done.push(r);
      r = undefined;
    }
    if (r === undefined) open.set(m.topic, (r = { topic: m.topic, messages: [], indices: [], bytes: 0 }));
    // An outgoing record is a kafkajs Message already (its `topic` is ignored): no copy.
    r.messages.push(m as Message);
    r.indices.push(i);
    r.bytes += size;
  }
  for (const r of open.values()) done.push(r);
  return done;
}

/** Bytes a record takes in a record batch, near enough (lengths plus varint overhead). */
export function approximateSize(m: OutgoingRecord): number {
  let size = 24 + (m.key === null ? 0 : Buffer.byteLength(m.key)) + Buffer.byteLength(m.value);
  const headers = m.headers;
  if (headers === undefined) return size;
  // for..in: no entries array per record on the hot path.
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v) size += headerSize(k, one);
    else size += headerSize(k, v);
  }
  return size;
}

function headerSize(key: string, value: string | Buffer): number {
  return 4 + key.length + (typeof value === 'string' ? Buffer.byteLength(value) : value.length);
}
