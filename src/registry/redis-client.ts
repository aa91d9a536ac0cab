import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** A Redis client that connects on `connect()` and logs its errors instead of crashing on them. */
export function connectRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true });
  // Without a listener ioredis prints "Unhandled error event"; reconnecting is its own job.
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis error'));
  return redis;
}
