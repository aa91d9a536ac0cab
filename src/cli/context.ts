import { userInfo } from 'node:os';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config, type ConfigInput } from '../config/index.js';

/** What every command gets: the parsed configuration and a logger. */
export interface CommandContext {
  config: Config;
  log: Logger;
}

export function makeContext(overrides: Partial<ConfigInput> = {}): CommandContext {
  const config = loadConfig(process.env, overrides);
  const log = pino({ level: config.logLevel, base: { service: 'kscore' } });
  return { config, log };
}

/** Flags shared by the commands that talk to Kafka, Redis and the schema registry. */
export const connectionFlags = {
  brokers: { type: 'string' },
  'redis-url': { type: 'string' },
  'schema-registry-url': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export function connectionOverrides(values: Record<string, unknown>): Partial<ConfigInput> {
  const o: Partial<ConfigInput> = {};
  if (typeof values['brokers'] === 'string') o.kafkaBrokers = values['brokers'];
  if (typeof values['redis-url'] === 'string') o.redisUrl = values['redis-url'];
  if (typeof values['schema-registry-url'] === 'string') o.schemaRegistryUrl = values['schema-registry-url'];
  if (typeof values['log-level'] === 'string') o.logLevel = values['log-level'] as Config['logLevel'];
  return o;
}

/** Handles SIGINT and SIGTERM once: the first asks `close` to drain, the second exits at once. */
export function onShutdownSignal(close: () => Promise<void>, log: Logger): void {
  let signalled = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    signalled = true;
    log.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** Who the audit log names for changes made from this CLI. */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}
