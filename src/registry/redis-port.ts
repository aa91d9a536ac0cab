/** The Redis commands the registry uses, and nothing else (ioredis implements them). */
export interface RegistryRedis {
  incr(key: string): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
  hgetBuffer(key: string, field: string): Promise<Buffer | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  smembers(key: string): Promise<string[]>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  xrevrange(key: string, end: string, start: string, count: 'COUNT', n: number): Promise<[string, string[]][]>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  multi(): RegistryRedisTransaction;
}

export interface RegistryRedisTransaction {
  hset(key: string, ...fieldValues: (string | Buffer)[]): RegistryRedisTransaction;
  hdel(key: string, ...fields: string[]): RegistryRedisTransaction;
  del(...keys: string[]): RegistryRedisTransaction;
  rpush(key: string, ...values: string[]): RegistryRedisTransaction;
  sadd(key: string, ...members: string[]): RegistryRedisTransaction;
  xadd(key: string, maxlen: 'MAXLEN', approx: '~', count: string, id: '*', ...fieldValues: string[]): RegistryRedisTransaction;
  publish(channel: string, message: string): RegistryRedisTransaction;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/** The subscriber side of routing notifications. */
export interface RegistrySubscriber {
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
}
