import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from '../errors.js';
import type { z } from 'zod';
import { resolveRoutes } from './routes.js';
import { configSchema, ENV_NAMES, FILE_SETTINGS, SECRET_SETTINGS, type Config, type ConfigInput } from './schema.js';

const REDACTED = '***';

/** The configuration with secrets masked (and passwords inside URLs), for printing. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const key of SECRET_SETTINGS) if (out[key] !== undefined) out[key] = REDACTED;
  out['apiTokens'] = config.apiTokens.map((t) => ({ owner: t.owner, role: t.role, token: REDACTED }));
  out['redisUrl'] = redactUrl(config.redisUrl);
  out['schemaRegistryUrl'] = redactUrl(config.schemaRegistryUrl);
  return out;
}

/** A URL with its password (if any) masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = REDACTED;
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Kubernetes gives every container `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT`, ... for each Service
 * in its namespace (unless `enableServiceLinks: false`); for a Service named `kscore` these start
 * with `KSCORE_`. Such a variable is ignored when its name and its value both have that form.
 */
const IP = '[0-9a-fA-F.:]+';
const SERVICE_LINKS: readonly [RegExp, RegExp][] = [
  [/^KSCORE_(?:[A-Z0-9_]+_)?SERVICE_HOST$/, new RegExp(`^${IP}$`)],
  [/^KSCORE_(?:[A-Z0-9_]+_)?SERVICE_PORT(?:_[A-Z0-9_]+)?$/, /^\d+$/],
  [/^KSCORE_(?:[A-Z0-9_]+_)?PORT(?:_\d+_(?:TCP|UDP|SCTP))?$/, new RegExp(`^(?:tcp|udp|sctp)://\\[?${IP}\\]?:\\d+$`)],
  [/^KSCORE_(?:[A-Z0-9_]+_)?PORT_\d+_(?:TCP|UDP|SCTP)_PROTO$/, /^(?:tcp|udp|sctp)$/],
  [/^KSCORE_(?:[A-Z0-9_]+_)?PORT_\d+_(?:TCP|UDP|SCTP)_PORT$/, /^\d+$/],
  [/^KSCORE_(?:[A-Z0-9_]+_)?PORT_\d+_(?:TCP|UDP|SCTP)_ADDR$/, new RegExp(`^${IP}$`)],
];

export function isServiceLink(name: string, value: string | undefined): boolean {
  return value !== undefined && SERVICE_LINKS.some(([n, v]) => n.test(name) && v.test(value));
}

/**
 * Parses the configuration once, at start-up: environment first, then explicit overrides (CLI
 * flags). Fails with a message naming each bad setting by its environment variable. An unknown
 * `KSCORE_` variable is refused too, since it is almost always a typo (Kubernetes' service links
 * excepted). A secret setting may come from a file named by `<ENV>_FILE`.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: Partial<ConfigInput> = {},
): Config {
  const known = new Set(Object.values(ENV_NAMES));
  for (const key of FILE_SETTINGS) known.add(`${ENV_NAMES[key]}_FILE`);
  const unknown = Object.keys(env).filter((k) => k.startsWith('KSCORE_') && !known.has(k) && !isServiceLink(k, env[k]));
  if (unknown.length > 0) {
    throw new ConfigError(`unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  }

  const raw: Record<string, unknown> = {};
  for (const [key, envName] of Object.entries(ENV_NAMES)) {
    const value = env[envName];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  for (const key of FILE_SETTINGS) readSettingFile(key, env, raw);
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) raw[key] = value;
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const envName = ENV_NAMES[key as keyof Config] ?? key;
      // Secrets are never echoed into logs; the routing table's messages name the entry instead.
      const given = SECRET_SETTINGS.has(key as keyof Config) || key === 'routes' ? undefined : raw[key];
      return `${envName}${given === undefined ? '' : ` (${JSON.stringify(given)})`}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const config = parsed.data;
  const problems = crossChecks(config);
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return Object.freeze({ ...config, kafkaBrokers: Object.freeze([...config.kafkaBrokers]) }) as Config;
}

/** `<ENV>_FILE`: the setting's value is the file's content, without its final newline. */
function readSettingFile(key: keyof Config, env: Readonly<Record<string, string | undefined>>, raw: Record<string, unknown>): void {
  const envName = ENV_NAMES[key];
  const file = env[`${envName}_FILE`];
  if (file === undefined || file === '') return;
  if (raw[key] !== undefined) throw new ConfigError(`${envName} and ${envName}_FILE are both set; set one`);
  try {
    raw[key] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(`${envName}_FILE (${JSON.stringify(file)}): cannot be read: ${errorMessage(err)}`);
  }
}

/** Settings that are valid alone but not together. */
function crossChecks(c: z.infer<typeof configSchema>): string[] {
  const n = ENV_NAMES;
  const problems: string[] = [];
  if (new Set([c.featuresTopic, c.predictionsTopic, c.deadLetterTopic]).size !== 3) {
    problems.push(`${n.featuresTopic}, ${n.predictionsTopic} and ${n.deadLetterTopic} must be three different topics`);
  }
  const sasl = c.kafkaSecurityProtocol.startsWith('sasl_');
  const tls = c.kafkaSecurityProtocol === 'ssl' || c.kafkaSecurityProtocol === 'sasl_ssl';
  if (sasl && c.kafkaSaslMechanism === undefined) problems.push(`${n.kafkaSaslMechanism}: needed with ${n.kafkaSecurityProtocol}=${c.kafkaSecurityProtocol}`);
  if (!sasl && c.kafkaSaslMechanism !== undefined) problems.push(`${n.kafkaSaslMechanism}: set, but ${n.kafkaSecurityProtocol} is ${c.kafkaSecurityProtocol} (use sasl_ssl or sasl_plaintext)`);
  if (sasl && c.kafkaSaslMechanism !== undefined && c.kafkaSaslMechanism !== 'oauthbearer') {
    if (c.kafkaSaslUsername === undefined) problems.push(`${n.kafkaSaslUsername}: needed with ${n.kafkaSaslMechanism}=${c.kafkaSaslMechanism}`);
    if (c.kafkaSaslPassword === undefined) problems.push(`${n.kafkaSaslPassword}: needed with ${n.kafkaSaslMechanism}=${c.kafkaSaslMechanism} (or ${n.kafkaSaslPassword}_FILE)`);
  }
  if (c.kafkaSaslMechanism === 'oauthbearer' && c.kafkaSaslOauthTokenFile === undefined && c.kafkaSaslOauthTokenCommand === undefined) {
    problems.push(`${n.kafkaSaslOauthTokenFile} or ${n.kafkaSaslOauthTokenCommand}: one is needed with ${n.kafkaSaslMechanism}=oauthbearer`);
  }
  const tlsFiles = (['kafkaTlsCaFile', 'kafkaTlsCertFile', 'kafkaTlsKeyFile'] as const).filter((k) => c[k] !== undefined);
  if (!tls && tlsFiles.length > 0) problems.push(`${tlsFiles.map((k) => n[k]).join(', ')}: set, but ${n.kafkaSecurityProtocol} is ${c.kafkaSecurityProtocol} (use ssl or sasl_ssl)`);
  if ((c.kafkaTlsCertFile === undefined) !== (c.kafkaTlsKeyFile === undefined)) problems.push(`${n.kafkaTlsCertFile} and ${n.kafkaTlsKeyFile}: set both for mutual TLS, or neither`);
  if ((c.schemaRegistryUsername === undefined) !== (c.schemaRegistryPassword === undefined)) {
    problems.push(`${n.schemaRegistryUsername} and ${n.schemaRegistryPassword}: set both for basic auth, or neither`);
  }
  if (c.outputSchemaId !== undefined && c.outputSchemaSubject !== undefined) problems.push(`${n.outputSchemaId} and ${n.outputSchemaSubject}: set one`);
  const schemaSettings = (['outputSchemaId', 'outputSchemaSubject'] as const).filter((k) => c[k] !== undefined);
  if (c.outputFormat === 'json' && schemaSettings.length > 0) problems.push(`${schemaSettings.map((k) => n[k]).join(', ')}: set, but ${n.outputFormat}=json writes no schema`);
  if (c.redisTlsCaFile !== undefined && !c.redisUrl.startsWith('rediss://')) problems.push(`${n.redisTlsCaFile}: set, but ${n.redisUrl} does not start with rediss://`);
  if (c.routes !== undefined) problems.push(...resolveRoutes(c).problems);
  // The prediction schema is registered under one topic's subject: a table's several topics would need one each.
  if (c.routes !== undefined && c.outputFormat !== 'json') problems.push(`${n.routes}: predictions of a routing table are written as JSON; ${n.outputFormat}=${c.outputFormat} is not supported with it yet`);
  return problems;
}
