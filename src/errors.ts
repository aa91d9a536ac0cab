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

/** Why an event could not be scored. Poison input: never retried, dead-lettered at once. */
export const POISON_REASONS = ['decode-error', 'unknown-schema', 'missing-feature', 'non-numeric-feature', 'non-finite-feature'] as const;
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

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
