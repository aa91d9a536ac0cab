import { ConfigError } from '../errors.js';
import { configSchema, ENV_NAMES, type Config, type ConfigInput } from './schema.js';

const SECRET_SETTINGS = new Set<string>(['apiTokens']);

/** The configuration with secrets masked, for printing. */
export function redactedConfig(config: Config): Record<string, unknown> {
  return { ...config, apiTokens: config.apiTokens.map((t) => ({ owner: t.owner, role: t.role, token: '***' })) };
}

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
      // Secrets are never echoed into logs.
      const given = SECRET_SETTINGS.has(key) ? undefined : raw[key];
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
