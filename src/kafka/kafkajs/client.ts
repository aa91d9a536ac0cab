import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type LogEntry, type Mechanism, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConnection } from '../connection.js';
import type { Admin, GroupConsumer, GroupConsumerOptions, KafkaCapabilities, KafkaClient, Producer, ProducerOptions, RangeReader, RangeReaderOptions } from '../types.js';
import { KafkajsAdmin } from './admin.js';
import { KafkajsGroupConsumer } from './group-consumer.js';
import { KafkajsProducer } from './producer.js';
import { KafkajsRangeReader } from './range-reader.js';
import { oauthBearer } from './oauthbearer.js';

const run = promisify(execFile);

// kafkajs logs these at ERROR while a coordinator starts, then retries and succeeds.
const TRANSIENT = /coordinator is not available|coordinator is loading|not the leader for that topic-partition|There is no leader for this topic-partition/i;
/**
 * kafkajs logs every failed connection attempt as an error: hundreds a minute while a broker is
 * away. The service says it once per retry of its own (a batch, a commit, the consumer's restart)
 * at warn, so these go to debug.
 */
const CONNECTION_NOISE = /^(Connection error|Failed to connect to seed broker|Crash: KafkaJSNumberOfRetriesExceeded|Restarting the consumer)/;

/** The kafkajs adapter: pure JavaScript, the default client. */
export class KafkajsClient implements KafkaClient {
  readonly name = 'kafkajs' as const;
  // kafkajs writes gzip itself; snappy, lz4 and zstd need codec packages the service does not ship.
  readonly capabilities: KafkaCapabilities = { transactions: true, compression: ['none', 'gzip'] };
  readonly kafka: Kafka;

  constructor(
    connection: KafkaConnection,
    private readonly log: Logger,
  ) {
    this.kafka = new Kafka(kafkajsConfig(connection, log));
  }

  async admin(): Promise<Admin> {
    return KafkajsAdmin.connect(this.kafka);
  }

  groupConsumer(options: GroupConsumerOptions): GroupConsumer {
    return new KafkajsGroupConsumer(this.kafka, options, this.log.child({ component: 'consumer', group: options.groupId }));
  }

  rangeReader(options: RangeReaderOptions): Promise<RangeReader> {
    return KafkajsRangeReader.open(this.kafka, options, this.log.child({ component: 'range-reader', topic: options.topic }));
  }

  producer(options: ProducerOptions = {}): Promise<Producer> {
    return KafkajsProducer.connect(this.kafka, options);
  }
}

/**
 * kafkajs logs an error as the strings `error` and `stack`; they become `err` with the type,
 * message and stack pino's error serializer writes, as every other error the service logs.
 */
function withErr(fields: Record<string, unknown>): Record<string, unknown> {
  const { error, stack, ...rest } = fields;
  if (typeof error !== 'string') return fields;
  return { ...rest, err: { type: 'KafkaJSError', message: error, ...(typeof stack === 'string' ? { stack } : {}) } };
}

function kafkajsConfig(connection: KafkaConnection, logger: Logger): KafkaConfig {
  const log = logger.child({ component: 'kafkajs' });
  const config: KafkaConfig = {
    clientId: connection.clientId,
    brokers: [...connection.brokers],
    logLevel: KafkaLogLevel.WARN,
    retry: { initialRetryTime: 200, retries: 8 },
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        const transient = (typeof rest['error'] === 'string' && TRANSIENT.test(rest['error'])) || CONNECTION_NOISE.test(message);
        const fields = withErr(rest);
        if (transient) log.debug(fields, message);
        else if (level <= KafkaLogLevel.ERROR) log.error(fields, message);
        else if (level === KafkaLogLevel.WARN) log.warn(fields, message);
        else log.debug(fields, message);
      },
  };
  const tls = connection.tls;
  if (tls !== undefined) {
    config.ssl = {
      rejectUnauthorized: true,
      ...(tls.caFile === undefined ? {} : { ca: [readFileSync(tls.caFile, 'utf8')] }),
      ...(tls.certFile === undefined ? {} : { cert: readFileSync(tls.certFile, 'utf8') }),
      ...(tls.keyFile === undefined ? {} : { key: readFileSync(tls.keyFile, 'utf8') }),
      ...(tls.keyPassword === undefined ? {} : { passphrase: tls.keyPassword }),
      // Hostname verification off means: the chain is still verified, the name is not.
      ...(tls.verifyHostname ? {} : { checkServerIdentity: () => undefined }),
    };
  }
  const sasl = connection.sasl;
  if (sasl !== undefined) config.sasl = saslOptions(sasl);
  return config;
}

function saslOptions(sasl: NonNullable<KafkaConnection['sasl']>): SASLOptions | Mechanism {
  if (sasl.mechanism === 'oauthbearer') {
    const { oauthTokenFile, oauthTokenCommand } = sasl;
    return oauthBearer(async () =>
      oauthTokenFile !== undefined
        ? (await readFile(oauthTokenFile, 'utf8')).trim()
        : (await run('/bin/sh', ['-c', oauthTokenCommand ?? 'false'])).stdout.trim(),
    );
  }
  return { mechanism: sasl.mechanism, username: sasl.username ?? '', password: sasl.password ?? '' } as SASLOptions;
}
