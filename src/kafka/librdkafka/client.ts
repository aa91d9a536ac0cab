import { isMainThread } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { KafkaConnection } from '../connection.js';
import type { Admin, GroupConsumer, GroupConsumerOptions, KafkaCapabilities, KafkaClient, Producer, ProducerOptions, RangeReader, RangeReaderOptions } from '../types.js';
import { LibrdkafkaAdmin } from './admin.js';
import { connectionConfig } from './config.js';
import { LibrdkafkaGroupConsumer } from './group-consumer.js';
import { loadNative, type NativeConfig, type NativeModule } from './native.js';
import { COMPRESSIONS, LibrdkafkaProducer } from './producer.js';
import { LibrdkafkaRangeReader } from './range-reader.js';

/**
 * Threads a process should have in libuv's pool: every waiting `consume()` holds one for up to
 * its timeout (report §8), besides what fs, dns.lookup, zlib and crypto need. Node reads
 * UV_THREADPOOL_SIZE when the pool starts, which under ESM is before the first line of the entry
 * module runs (its own file is read through the pool): it must come from the environment.
 */
const RECOMMENDED_THREADPOOL = 16;

/**
 * Loads the librdkafka adapter. Throws a `ConfigError` (one line, what to run) when the native
 * addon of @confluentinc/kafka-javascript is missing or not built.
 */
export async function loadLibrdkafkaClient(connection: KafkaConnection, log: Logger): Promise<KafkaClient> {
  if (!isMainThread) {
    // The binding runs on the main thread only: its addon is not context-aware (a second thread
    // cannot load it) and its callbacks are bound to the main event loop (uv_default_loop). Worker
    // threads (replay) use the kafkajs adapter with the same connection.
    log.info('librdkafka runs on the main thread only: this worker thread uses kafkajs');
    const { KafkajsClient } = await import('../kafkajs/client.js');
    return new KafkajsClient(connection, log);
  }
  const rd = await loadNative();
  const pool = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
  if (!(pool >= RECOMMENDED_THREADPOOL)) {
    log.info({ UV_THREADPOOL_SIZE: pool }, `librdkafka: set UV_THREADPOOL_SIZE=${RECOMMENDED_THREADPOOL} in the environment: each waiting consume holds one of libuv's threads`);
  }
  return new LibrdkafkaClient(rd, connection, log);
}

/** The librdkafka adapter (native API of @confluentinc/kafka-javascript). */
export class LibrdkafkaClient implements KafkaClient {
  readonly name = 'librdkafka' as const;
  readonly capabilities: KafkaCapabilities = { transactions: true, compression: COMPRESSIONS };
  private readonly base: NativeConfig;

  constructor(
    private readonly rd: NativeModule,
    connection: KafkaConnection,
    private readonly log: Logger,
  ) {
    this.base = connectionConfig(connection);
  }

  admin(): Promise<Admin> {
    return LibrdkafkaAdmin.connect(this.rd, this.base, this.log.child({ component: 'librdkafka-admin' }));
  }

  groupConsumer(options: GroupConsumerOptions): GroupConsumer {
    return new LibrdkafkaGroupConsumer(this.rd, this.base, options, this.log.child({ component: 'consumer', group: options.groupId }));
  }

  rangeReader(options: RangeReaderOptions): Promise<RangeReader> {
    return LibrdkafkaRangeReader.open(this.rd, this.base, options, this.log.child({ component: 'range-reader', topic: options.topic }));
  }

  producer(options: ProducerOptions = {}): Promise<Producer> {
    return LibrdkafkaProducer.connect(this.rd, this.base, options, this.log.child({ component: 'producer' }));
  }
}
