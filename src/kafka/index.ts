import type { Logger } from 'pino';
import type { KafkaConnection } from './connection.js';
import { tlsPreflight } from './tls-preflight.js';
import type { KafkaClient } from './types.js';

export type * from './types.js';
export { kafkaConnection, type KafkaConnection, type KafkaSasl, type KafkaTls, type SaslMechanism } from './connection.js';
export { DeliveryError, KAFKA_CODES, KafkaError, RangeGoneError, kafkaError, type KafkaCode } from './errors.js';

/**
 * The Kafka client the connection names. Each adapter is loaded only when chosen, so a machine
 * where the librdkafka addon is not built still runs everything on kafkajs.
 */
export async function createKafkaClient(connection: KafkaConnection, log: Logger): Promise<KafkaClient> {
  await tlsPreflight(connection);
  if (connection.client === 'librdkafka') {
    const { loadLibrdkafkaClient } = await import('./librdkafka/client.js');
    return loadLibrdkafkaClient(connection, log);
  }
  const { KafkajsClient } = await import('./kafkajs/client.js');
  return new KafkajsClient(connection, log);
}
