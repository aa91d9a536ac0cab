import { ServiceError } from '../errors.js';

/**
 * What went wrong with Kafka, in the service's terms: each adapter maps its client's errors to
 * these codes, so callers decide retry vs. stop without knowing the client.
 */
export const KAFKA_CODES = {
  /** Brokers unreachable, a leader moving, a coordinator loading, a timeout: retrying helps. */
  unavailable: 'KAFKA_UNAVAILABLE',
  /** TLS or SASL refused (wrong password, untrusted certificate). Retrying does not help. */
  authentication: 'KAFKA_AUTHENTICATION',
  /** The principal may not use a topic or group. */
  authorization: 'KAFKA_AUTHORIZATION',
  unknownTopic: 'KAFKA_UNKNOWN_TOPIC',
  /** One record is over the broker's or the topic's size limit. */
  recordTooLarge: 'KAFKA_RECORD_TOO_LARGE',
  /** Another producer with the same transactional id took over. */
  fenced: 'KAFKA_FENCED',
  /** A setting the client or broker refuses. */
  invalidConfig: 'KAFKA_INVALID_CONFIG',
  other: 'KAFKA_ERROR',
} as const;

export type KafkaCode = (typeof KAFKA_CODES)[keyof typeof KAFKA_CODES];

const RETRIABLE = new Set<KafkaCode>([KAFKA_CODES.unavailable]);

export class KafkaError extends ServiceError {
  declare readonly code: KafkaCode;

  constructor(code: KafkaCode, message: string, options: { canRetry?: boolean; cause?: unknown } = {}) {
    super(code, message, { canRetry: options.canRetry ?? RETRIABLE.has(code), cause: options.cause });
  }
}

/** Some records of a `send` were not acknowledged; every record not listed was. */
export class DeliveryError extends KafkaError {
  constructor(
    readonly failures: readonly { index: number; error: KafkaError }[],
    total: number,
  ) {
    const first = failures[0]!.error;
    super(first.code, `${failures.length} of ${total} records not delivered: ${first.message}`, { canRetry: failures.every((f) => f.error.canRetry), cause: first });
  }
}

/** Records of a range can no longer be read (deleted by retention meanwhile). */
export class RangeGoneError extends ServiceError {
  constructor(message: string) {
    super('REPLAY_RANGE_GONE', message);
  }
}

/** Node's TLS verification failures: a certificate problem, never fixed by a retry. */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  // Alerts of a server that refuses the client's certificate (mutual TLS).
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
]);

/** Whether an error (or one of its causes) is a TLS certificate failure; its text when so. */
export function tlsFailure(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_CODES.has(code)) return `${code}: ${(e as Error).message}`;
    e = (e as { cause?: unknown }).cause ?? (e as { originalError?: unknown }).originalError;
  }
  return undefined;
}

/** What to check, by code, appended to the message of a refused connection. */
export const KAFKA_HINTS: Partial<Record<KafkaCode, string>> = {
  [KAFKA_CODES.authentication]: 'check KSCORE_KAFKA_SECURITY_PROTOCOL, KSCORE_KAFKA_SASL_MECHANISM, its credentials (KSCORE_KAFKA_SASL_USERNAME and KSCORE_KAFKA_SASL_PASSWORD, or the OAUTHBEARER token) and the KSCORE_KAFKA_TLS_* settings',
  [KAFKA_CODES.authorization]: "the service's principal lacks an ACL (README, Deploying: ACLs)",
  [KAFKA_CODES.unknownTopic]: 'create the topic, or let the service create it (KSCORE_CREATE_TOPICS=true)',
};

/** A `KafkaError` whose message ends with what to check. */
export function kafkaError(code: KafkaCode, message: string, options: { canRetry?: boolean; cause?: unknown } = {}): KafkaError {
  const hint = KAFKA_HINTS[code];
  return new KafkaError(code, hint === undefined ? message : `${message} (${hint})`, options);
}
