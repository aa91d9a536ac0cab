import { errorMessage } from '../../errors.js';
import { KAFKA_CODES, KafkaError, kafkaError, tlsFailure, type KafkaCode } from '../errors.js';

interface KafkajsLikeError {
  name?: string;
  type?: string;
  retriable?: boolean;
  cause?: unknown;
  originalError?: unknown;
  errors?: unknown[];
}

const BY_TYPE: Readonly<Record<string, KafkaCode>> = {
  TOPIC_AUTHORIZATION_FAILED: KAFKA_CODES.authorization,
  GROUP_AUTHORIZATION_FAILED: KAFKA_CODES.authorization,
  CLUSTER_AUTHORIZATION_FAILED: KAFKA_CODES.authorization,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: KAFKA_CODES.authorization,
  SASL_AUTHENTICATION_FAILED: KAFKA_CODES.authentication,
  ILLEGAL_SASL_STATE: KAFKA_CODES.authentication,
  UNSUPPORTED_SASL_MECHANISM: KAFKA_CODES.authentication,
  UNKNOWN_TOPIC_OR_PARTITION: KAFKA_CODES.unknownTopic,
  MESSAGE_TOO_LARGE: KAFKA_CODES.recordTooLarge,
  RECORD_LIST_TOO_LARGE: KAFKA_CODES.recordTooLarge,
  INVALID_PRODUCER_EPOCH: KAFKA_CODES.fenced,
  PRODUCER_FENCED: KAFKA_CODES.fenced,
  INVALID_CONFIG: KAFKA_CODES.invalidConfig,
  INVALID_REQUIRED_ACKS: KAFKA_CODES.invalidConfig,
};

/** The innermost kafkajs error: retries-exceeded and non-retriable wrappers hide the real one. */
function innermost(err: unknown): unknown {
  let e = err;
  for (let depth = 0; depth < 5; depth++) {
    const k = e as KafkajsLikeError | null;
    if (k === null || typeof k !== 'object') return e;
    const inner = k.name === 'KafkaJSNumberOfRetriesExceeded' || k.name === 'KafkaJSNonRetriableError' ? (k.cause ?? k.originalError) : undefined;
    if (k.name === 'KafkaJSAggregateError' && Array.isArray(k.errors) && k.errors.length > 0) e = k.errors[0];
    else if (inner !== undefined && inner !== e) e = inner;
    else return e;
  }
  return e;
}

/**
 * The broker no longer accepts the idempotent producer's sequence numbers (after a broker crash,
 * kafkajs can retry a request out of order, and does not recover): only a new producer id helps.
 */
const PRODUCER_STATE_LOST = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID']);

export function producerStateLost(err: unknown): boolean {
  const inner = innermost(err) as KafkajsLikeError | null;
  return typeof inner?.type === 'string' && PRODUCER_STATE_LOST.has(inner.type);
}

/** Maps whatever kafkajs threw to the service's `KafkaError`. */
export function fromKafkajs(err: unknown, context?: string): KafkaError {
  if (err instanceof KafkaError) return err;
  const prefix = context === undefined ? '' : `${context}: `;
  const tls = tlsFailure(err);
  if (tls !== undefined) return kafkaError(KAFKA_CODES.authentication, `${prefix}TLS: ${tls}`, { cause: err });
  const inner = innermost(err) as KafkajsLikeError;
  const message = `${prefix}${errorMessage(inner)}`;
  if (inner?.name === 'KafkaJSSASLAuthenticationError') return kafkaError(KAFKA_CODES.authentication, message, { cause: err });
  const byType = inner?.type === undefined ? undefined : BY_TYPE[inner.type];
  if (byType !== undefined) return kafkaError(byType, message, { cause: err });
  if (inner?.name === 'KafkaJSNotImplemented' || inner?.name === 'KafkaJSServerDoesNotSupportApiKey') {
    return new KafkaError(KAFKA_CODES.invalidConfig, message, { cause: err });
  }
  // Connection trouble, timeouts, leaders moving, coordinators loading: kafkajs marks them retriable.
  const retriable = inner?.retriable === true;
  return new KafkaError(retriable ? KAFKA_CODES.unavailable : KAFKA_CODES.other, message, { cause: err, canRetry: retriable });
}
