import { ConfigError } from '../errors.js';
import { configSchema, ENV_NAMES, type Config, type ConfigInput } from './schema.js';

/**
 * Parses the configuration once, at start-up: environment first, then explicit overrides (CLI
 * flags). Fails with a message naming each bad setting by its environment variable. An unknown
 * `KSCORE_` variable is refused too, since it is almost always a typo.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: Partial<ConfigInput> = {},
): Config {
  const known = new Set(Object.values(ENV_NAMES));
  const unknown = Object.keys(env).filter((k) => k.startsWith('KSCORE_') && !known.has(k));
  if (unknown.length > 0) {
    throw new ConfigError(`unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  }

  const raw: Record<string, unknown> = {};
  for (const [key, envName] of Object.entries(ENV_NAMES)) {
    const value = env[envName];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) raw[key] = value;
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const envName = ENV_NAMES[key as keyof Config] ?? key;
      const given = raw[key];
      return `${envName}${given === undefined ? '' : ` (${JSON.stringify(given)})`}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const config = parsed.data;
  if (new Set([config.featuresTopic, config.predictionsTopic, config.deadLetterTopic]).size !== 3) {
    throw new ConfigError(
      `${ENV_NAMES.featuresTopic}, ${ENV_NAMES.predictionsTopic} and ${ENV_NAMES.deadLetterTopic} must be three different topics`,
    );
  }
  return Object.freeze({ ...config, kafkaBrokers: Object.freeze([...config.kafkaBrokers]) }) as Config;
}
