import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { ServiceError, errorMessage } from '../errors.js';
import { tlsFailure } from '../kafka/errors.js';

export type RedisSettings = Pick<Config, 'redisUrl' | 'redisUsername' | 'redisPassword' | 'redisTlsCaFile'>;

/** Redis refused the credentials or the certificate: a setting is wrong, retrying does not help. */
export class RedisAuthError extends ServiceError {
  constructor(message: string, cause: unknown) {
    super('REDIS_AUTHENTICATION', message, { cause });
  }
}

/** Longest a Redis command may take before it fails, in ms. */
export const REDIS_COMMAND_TIMEOUT_MS = 10_000;

const AUTH_REPLY = /WRONGPASS|NOAUTH|NOPERM|invalid username-password|invalid password|AUTH <password> called without/i;

/**
 * A Redis client that connects on `connect()` and logs its errors instead of crashing on them
 * (reconnecting is ioredis' job). Credentials and TLS come from the settings; a refused password
 * or an untrusted certificate rejects `connect()` with a `RedisAuthError` naming the settings.
 */
export function connectRedis(settings: RedisSettings, log: Logger): Redis {
  // A frozen Redis keeps its connection open and answers nothing: without a command timeout a
  // read would wait for ever; with it, the read fails and is retried (a transient error).
  const options: RedisOptions = { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true, commandTimeout: REDIS_COMMAND_TIMEOUT_MS };
  if (settings.redisUsername !== undefined) options.username = settings.redisUsername;
  if (settings.redisPassword !== undefined) options.password = settings.redisPassword;
  if (settings.redisUrl.startsWith('rediss://')) {
    options.tls = settings.redisTlsCaFile === undefined ? {} : { ca: readFileSync(settings.redisTlsCaFile, 'utf8') };
  }
  const redis = new Redis(settings.redisUrl, options);
  // ioredis rejects connect() with "Connection is closed" after a refused AUTH: the reason is the error it emitted.
  let lastError: unknown;
  redis.on('error', (err: Error) => {
    lastError = err;
    log.warn({ err }, 'redis error');
  });
  const connect = redis.connect.bind(redis);
  redis.connect = async (callback?: () => void) => {
    try {
      await connect(callback);
    } catch (err) {
      const classified = classifyRedisError(err) ?? classifyRedisError(lastError);
      if (classified !== undefined) redis.disconnect();
      throw classified ?? err;
    }
  };
  return redis;
}

/** The settings to blame when Redis refuses to let the client in; undefined for other errors. */
export function classifyRedisError(err: unknown): RedisAuthError | undefined {
  const tls = tlsFailure(err);
  if (tls !== undefined) return new RedisAuthError(`Redis TLS: ${tls} (check KSCORE_REDIS_TLS_CA_FILE and REDIS_URL's host)`, err);
  if (AUTH_REPLY.test(errorMessage(err))) {
    return new RedisAuthError(`Redis refused the credentials: ${errorMessage(err)} (check KSCORE_REDIS_USERNAME and KSCORE_REDIS_PASSWORD, or the password in REDIS_URL)`, err);
  }
  return undefined;
}
