/**
 * One error base for the service. Every error says whether trying again can help, so callers
 * decide retry vs. dead-letter vs. stop without string matching.
 */
export class ServiceError extends Error {
  readonly code: string;
  readonly canRetry: boolean;

  constructor(code: string, message: string, options: { canRetry?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.canRetry = options.canRetry ?? false;
  }
}

/** A bad setting: start-up stops and the message names the setting. */
export class ConfigError extends ServiceError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

/**
 * Why an event could not be scored. Poison input: never retried, dead-lettered at once.
 * `no-route`: on a topic split between models, its header or field names none of them.
 */
export const POISON_REASONS = [
  'decode-error',
  'unknown-schema',
  'unsupported-schema',
  'missing-feature',
  'non-numeric-feature',
  'non-finite-feature',
  /** A fraction, or a number beyond the range, where the model takes int64 or int32. */
  'non-integer-feature',
  'non-boolean-feature',
  'non-string-feature',
  /** A value the model's encoder does not know, where an unknown one would fail the whole batch. */
  'unknown-category',
  'no-route',
] as const;
export type PoisonReason = (typeof POISON_REASONS)[number];

export class PoisonEventError extends ServiceError {
  readonly reason: PoisonReason;
  constructor(reason: PoisonReason, message: string) {
    super(`POISON_${reason.toUpperCase().replaceAll('-', '_')}`, message);
    this.reason = reason;
  }
}

/** A model that cannot be fetched, loaded or used. Retrying the same bytes does not help. */
export class ModelError extends ServiceError {
  constructor(code: string, message: string, options: { canRetry?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** Network or server trouble (Kafka, Redis, schema registry): retry with backoff helps. */
export class TransientError extends ServiceError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { canRetry: true, cause });
  }
}

/**
 * `err` as an Error, for logging under `err` (pino's error serializer then writes its type,
 * message and stack); a thrown value that is not an Error becomes one.
 */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
