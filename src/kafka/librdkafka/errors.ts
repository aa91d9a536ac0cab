import { KAFKA_CODES, KafkaError, kafkaError, type KafkaCode } from '../errors.js';
import { tokenRefusal } from '../oauth.js';
import type { NativeError } from './native.js';

/** librdkafka's error codes this adapter acts on (rd.CODES.ERRORS; negative ones are local). */
export const RD = {
  AUTO_OFFSET_RESET: -140,
  FENCED: -144,
  PURGE_QUEUE: -152,
  PURGE_INFLIGHT: -151,
  FATAL: -150,
  AUTHENTICATION: -169,
  REVOKE_PARTITIONS: -174,
  ASSIGN_PARTITIONS: -175,
  STATE: -172,
  SSL: -181,
  QUEUE_FULL: -184,
  TIMED_OUT: -185,
  INVALID_ARG: -186,
  ALL_BROKERS_DOWN: -187,
  UNKNOWN_TOPIC: -188,
  UNKNOWN_PARTITION: -190,
  MSG_TIMED_OUT: -192,
  RESOLVE: -193,
  TRANSPORT: -195,
  UNKNOWN_TOPIC_OR_PART: 3,
  MSG_SIZE_TOO_LARGE: 10,
  TOPIC_ALREADY_EXISTS: 36,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
} as const;

const BY_CODE: ReadonlyMap<number, KafkaCode> = new Map<number, KafkaCode>([
  // Authentication: TLS and SASL refused.
  [RD.AUTHENTICATION, KAFKA_CODES.authentication],
  [RD.SSL, KAFKA_CODES.authentication],
  [33, KAFKA_CODES.authentication], // UNSUPPORTED_SASL_MECHANISM
  [34, KAFKA_CODES.authentication], // ILLEGAL_SASL_STATE
  [58, KAFKA_CODES.authentication], // SASL_AUTHENTICATION_FAILED
  // Authorisation: an ACL is missing.
  [29, KAFKA_CODES.authorization], // TOPIC_AUTHORIZATION_FAILED
  [30, KAFKA_CODES.authorization], // GROUP_AUTHORIZATION_FAILED
  [31, KAFKA_CODES.authorization], // CLUSTER_AUTHORIZATION_FAILED
  [53, KAFKA_CODES.authorization], // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
  [RD.UNKNOWN_TOPIC_OR_PART, KAFKA_CODES.unknownTopic],
  [RD.UNKNOWN_TOPIC, KAFKA_CODES.unknownTopic],
  [RD.UNKNOWN_PARTITION, KAFKA_CODES.unknownTopic],
  [RD.MSG_SIZE_TOO_LARGE, KAFKA_CODES.recordTooLarge],
  [18, KAFKA_CODES.recordTooLarge], // RECORD_LIST_TOO_LARGE
  [4, KAFKA_CODES.recordTooLarge], // INVALID_MSG_SIZE
  [RD.FENCED, KAFKA_CODES.fenced],
  [90, KAFKA_CODES.fenced], // PRODUCER_FENCED
  [47, KAFKA_CODES.fenced], // INVALID_PRODUCER_EPOCH
  [52, KAFKA_CODES.fenced], // TRANSACTION_COORDINATOR_FENCED
  [40, KAFKA_CODES.invalidConfig], // INVALID_CONFIG
  [21, KAFKA_CODES.invalidConfig], // INVALID_REQUIRED_ACKS
  [35, KAFKA_CODES.invalidConfig], // UNSUPPORTED_VERSION
  [76, KAFKA_CODES.invalidConfig], // UNSUPPORTED_COMPRESSION_TYPE
  [RD.INVALID_ARG, KAFKA_CODES.invalidConfig],
  [-170, KAFKA_CODES.invalidConfig], // NOT_IMPLEMENTED
  [-165, KAFKA_CODES.invalidConfig], // UNSUPPORTED_FEATURE
]);

/**
 * Codes a retry can fix (report §7 "transient"): brokers away, leaders moving, coordinators
 * loading, timeouts, a full local queue. librdkafka retries most of them itself; what reaches the
 * adapter is reported as unavailable so the service backs off and tries again.
 */
const TRANSIENT = new Set<number>([
  RD.TRANSPORT,
  RD.ALL_BROKERS_DOWN,
  RD.TIMED_OUT,
  RD.MSG_TIMED_OUT,
  RD.QUEUE_FULL,
  RD.RESOLVE,
  RD.PURGE_QUEUE,
  RD.PURGE_INFLIGHT,
  -180, // WAIT_COORD
  -183, // ISR_INSUFF
  -166, // TIMED_OUT_QUEUE
  -177, // PREV_IN_PROGRESS
  -146, // UNKNOWN_BROKER
  5, // LEADER_NOT_AVAILABLE
  6, // NOT_LEADER_FOR_PARTITION
  7, // REQUEST_TIMED_OUT
  8, // BROKER_NOT_AVAILABLE
  9, // REPLICA_NOT_AVAILABLE
  13, // NETWORK_EXCEPTION
  14, // COORDINATOR_LOAD_IN_PROGRESS
  15, // COORDINATOR_NOT_AVAILABLE
  16, // NOT_COORDINATOR
  19, // NOT_ENOUGH_REPLICAS
  20, // NOT_ENOUGH_REPLICAS_AFTER_APPEND
  22, // ILLEGAL_GENERATION
  25, // UNKNOWN_MEMBER_ID
  27, // REBALANCE_IN_PROGRESS
  41, // NOT_CONTROLLER
  51, // CONCURRENT_TRANSACTIONS
  56, // KAFKA_STORAGE_ERROR
  74, // FENCED_LEADER_EPOCH
  75, // UNKNOWN_LEADER_EPOCH
  78, // OFFSET_NOT_AVAILABLE
  89, // THROTTLING_QUOTA_EXCEEDED
]);

/**
 * `event.error` carries no code (report §7: always -1, librdkafka's err2str text only, lower case),
 * and librdkafka's logs carry the details: both are classified by their text.
 */
const AUTH_TEXT = /authentication failure|sasl authentication error|authentication failed|ssl handshake failed|certificate verify failed|unsupported sasl mechanism/i;
const TRANSIENT_TEXT = /broker transport failure|all broker connections are down|timed out|connection refused|disconnected|resolve/i;

/** The service's code for a text of librdkafka's (an `event.error` or a log line), if it says what it is. */
export function codeOfText(text: string): KafkaCode | undefined {
  if (AUTH_TEXT.test(text)) return KAFKA_CODES.authentication;
  if (/authorization failed/i.test(text)) return KAFKA_CODES.authorization;
  if (/fenced/i.test(text)) return KAFKA_CODES.fenced;
  if (TRANSIENT_TEXT.test(text)) return KAFKA_CODES.unavailable;
  return undefined;
}

function isNativeError(err: unknown): err is NativeError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && typeof (err as { message?: unknown }).message === 'string';
}

/** The code a native error maps to. */
export function codeOf(err: NativeError): KafkaCode {
  const byCode = BY_CODE.get(err.code);
  if (byCode !== undefined) return byCode;
  if (err.code === -1) return codeOfText(err.message) ?? KAFKA_CODES.other;
  if (TRANSIENT.has(err.code) || err.isRetriable === true) return KAFKA_CODES.unavailable;
  return KAFKA_CODES.other;
}

/**
 * Maps whatever the binding threw or reported to the service's `KafkaError`: by code, with the
 * hints of `kafkaError()` (what to check). `detail` is librdkafka's own text of what happened
 * (a log line), which its error codes often lack; fatal errors (`isFatal`) are never retried.
 */
export function fromLibrdkafka(err: unknown, context?: string, detail?: string): KafkaError {
  if (err instanceof KafkaError) return err;
  const prefix = context === undefined ? '' : `${context}: `;
  const suffix = detail === undefined ? '' : ` (${detail})`;
  if (!isNativeError(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return new KafkaError(codeOfText(message) ?? KAFKA_CODES.other, `${prefix}${message}${suffix}`, { cause: err });
  }
  const code = codeOf(err);
  const name = err.code === -1 ? '' : ` [${err.code}]`;
  const refusal = tokenRefusal(err.message);
  const message = `${prefix}${err.message}${name}${refusal === '' ? '' : ` (${refusal})`}${suffix}`;
  if (err.isFatal === true) return kafkaError(code, message, { cause: err, canRetry: false });
  return kafkaError(code, message, { cause: err });
}

/** Whether a native error is librdkafka's full local queue (backpressure: wait for deliveries, retry). */
export function isQueueFull(err: unknown): boolean {
  return isNativeError(err) && err.code === RD.QUEUE_FULL;
}

/** The native error's code, or undefined for anything else. */
export function nativeCode(err: unknown): number | undefined {
  return isNativeError(err) ? err.code : undefined;
}
