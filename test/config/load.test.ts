import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isServiceLink, loadConfig, redactedConfig, redactUrl } from '../../src/config/load.js';
import { ENV_NAMES, configSchema } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';

function configError(env: Record<string, string>, overrides = {}): ConfigError {
  try {
    loadConfig(env, overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('loadConfig accepted a bad configuration');
}

describe('loadConfig', () => {
  it('loads the defaults from an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      kafkaBrokers: ['127.0.0.1:19092'],
      kafkaClientId: 'kscore',
      featuresTopic: 'features',
      predictionsTopic: 'predictions',
      deadLetterTopic: 'features.dlq',
      groupId: 'kscore-online',
      startFrom: 'earliest',
      inputFormat: 'auto',
      outputFormat: 'json',
      redisUrl: 'redis://127.0.0.1:16379',
      modelName: 'demo',
      modelAlias: 'production',
      maxBatchSize: 512,
      maxWaitMs: 5,
      httpPort: 18080,
      createTopics: true,
      logLevel: 'info',
    });
    expect(c.featuresField).toBeUndefined();
  });

  it('does not read process.env when given an environment', () => {
    const saved = process.env.KSCORE_MAX_BATCH_SIZE;
    process.env.KSCORE_MAX_BATCH_SIZE = '3';
    try {
      expect(loadConfig({}).maxBatchSize).toBe(512);
    } finally {
      if (saved === undefined) delete process.env.KSCORE_MAX_BATCH_SIZE;
      else process.env.KSCORE_MAX_BATCH_SIZE = saved;
    }
  });

  it('maps environment variables to settings, coercing numbers, lists and booleans', () => {
    const c = loadConfig({
      KSCORE_MAX_BATCH_SIZE: '64',
      KSCORE_MAX_WAIT_MS: '0',
      KAFKA_BROKERS: 'a:1, b:2',
      REDIS_URL: 'rediss://cache:6380',
      SCHEMA_REGISTRY_URL: 'http://registry:8081',
      KSCORE_FEATURES_TOPIC: 'in',
      KSCORE_PREDICTIONS_TOPIC: 'out',
      KSCORE_DEAD_LETTER_TOPIC: 'in.dlq',
      KSCORE_INPUT_FORMAT: 'avro',
      KSCORE_FEATURES_FIELD: 'features',
      KSCORE_CREATE_TOPICS: 'no',
      KSCORE_HTTP_PORT: '9000',
      PATH: '/usr/bin', // unrelated variables are ignored
    });
    expect(c).toMatchObject({
      maxBatchSize: 64,
      maxWaitMs: 0,
      kafkaBrokers: ['a:1', 'b:2'],
      redisUrl: 'rediss://cache:6380',
      schemaRegistryUrl: 'http://registry:8081',
      featuresTopic: 'in',
      predictionsTopic: 'out',
      deadLetterTopic: 'in.dlq',
      inputFormat: 'avro',
      featuresField: 'features',
      createTopics: false,
      httpPort: 9000,
    });
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ KSCORE_MAX_BATCH_SIZE: '' }).maxBatchSize).toBe(512);
  });

  it('has an environment variable for every setting', () => {
    expect(Object.keys(ENV_NAMES).sort()).toEqual(Object.keys(configSchema.shape).sort());
  });

  it.each([
    ['KSCORE_MAX_BATCH_SIZE', 'zero'],
    ['KSCORE_MAX_BATCH_SIZE', '0'],
    ['KSCORE_MAX_BATCH_SIZE', '1.5'],
    ['KSCORE_HTTP_PORT', '70000'],
    ['REDIS_URL', 'http://x'],
    ['KAFKA_BROKERS', 'nohostport'],
    ['KAFKA_BROKERS', 'a:1,nohostport'],
    ['KSCORE_FEATURES_TOPIC', 'bad topic'],
    ['KSCORE_INPUT_FORMAT', 'xml'],
    ['KSCORE_OUTPUT_FORMAT', 'thrift'],
    ['KSCORE_SUBJECT_NAME_STRATEGY', 'by-topic'],
    ['KSCORE_FEATURES_FIELD', 'payload..features'],
    ['KSCORE_FEATURE_PATHS', 'f0'],
    ['KSCORE_FEATURE_PATHS', 'f0=a.,f1=b'],
    ['KSCORE_FEATURE_PATHS', 'f0=a,f0=b'],
    ['KSCORE_OUTPUT_SCHEMA_ID', '-1'],
    ['SCHEMA_REGISTRY_URL', 'not a url'],
  ])('refuses %s=%s with a ConfigError naming the variable and the value', (name, value) => {
    const err = configError({ [name]: value });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain(`${name} (${JSON.stringify(value)})`);
  });

  it('names every bad variable at once', () => {
    const err = configError({ KSCORE_MAX_BATCH_SIZE: 'zero', REDIS_URL: 'http://x' });
    expect(err.message).toContain('KSCORE_MAX_BATCH_SIZE');
    expect(err.message).toContain('REDIS_URL');
  });

  it('refuses an unknown KSCORE_ variable, naming it', () => {
    const err = configError({ KSCORE_MAX_BATCHSIZE: '64' });
    expect(err.message).toContain('KSCORE_MAX_BATCHSIZE');
    expect(err.message).toMatch(/unknown setting/);
  });

  it.each([
    [{ KSCORE_PREDICTIONS_TOPIC: 'features' }],
    [{ KSCORE_DEAD_LETTER_TOPIC: 'predictions' }],
    [{ KSCORE_FEATURES_TOPIC: 'x', KSCORE_DEAD_LETTER_TOPIC: 'x' }],
  ])('refuses the same topic twice (%o)', (env) => {
    const err = configError(env);
    expect(err.message).toContain('KSCORE_FEATURES_TOPIC');
    expect(err.message).toMatch(/three different topics/);
  });

  it('reads the schema settings: formats, feature paths, subjects and registration', () => {
    const c = loadConfig({
      KSCORE_INPUT_FORMAT: 'confluent',
      KSCORE_JSON_SCHEMA_VALIDATE: 'true',
      KSCORE_OUTPUT_FORMAT: 'protobuf',
      KSCORE_SUBJECT_NAME_STRATEGY: 'topic-record',
      KSCORE_AUTO_REGISTER_SCHEMAS: 'false',
      KSCORE_OUTPUT_SCHEMA_SUBJECT: 'contracts.prediction',
      KSCORE_FEATURES_FIELD: 'payload.features',
      KSCORE_FEATURE_PATHS: ' f0 = meta.f0 , f1=history.3',
    });
    expect(c).toMatchObject({ inputFormat: 'confluent', jsonSchemaValidate: true, outputFormat: 'protobuf', subjectNameStrategy: 'topic-record', autoRegisterSchemas: false, outputSchemaSubject: 'contracts.prediction', featuresField: 'payload.features' });
    expect(c.featurePaths).toEqual([
      { feature: 'f0', path: ['meta', 'f0'] },
      { feature: 'f1', path: ['history', '3'] },
    ]);
    expect(loadConfig({})).toMatchObject({ jsonSchemaValidate: false, subjectNameStrategy: 'topic', autoRegisterSchemas: true, featurePaths: [] });
  });

  it.each([
    [{ KSCORE_OUTPUT_FORMAT: 'avro', KSCORE_OUTPUT_SCHEMA_ID: '3', KSCORE_OUTPUT_SCHEMA_SUBJECT: 's' }, /KSCORE_OUTPUT_SCHEMA_ID and KSCORE_OUTPUT_SCHEMA_SUBJECT: set one/],
    [{ KSCORE_OUTPUT_SCHEMA_ID: '3' }, /KSCORE_OUTPUT_SCHEMA_ID: set, but KSCORE_OUTPUT_FORMAT=json writes no schema/],
  ])('refuses output schema settings that do not go together (%o)', (env, message) => {
    expect(configError(env).message).toMatch(message);
  });

  it('returns a frozen object', () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { maxBatchSize: number }).maxBatchSize = 1;
    }).toThrow(TypeError);
  });

  it('lets overrides win over the environment', () => {
    const c = loadConfig(
      { KSCORE_MAX_BATCH_SIZE: '64', KSCORE_MODEL_NAME: 'from-env', KSCORE_GROUP_ID: 'env-group' },
      { maxBatchSize: 8, modelName: 'from-flag', groupId: undefined },
    );
    expect(c.maxBatchSize).toBe(8);
    expect(c.modelName).toBe('from-flag');
    expect(c.groupId).toBe('env-group'); // an undefined override leaves the env value
  });

  it('checks overrides too, naming the setting by its variable', () => {
    const err = configError({}, { maxBatchSize: -1 });
    expect(err.message).toContain('KSCORE_MAX_BATCH_SIZE (-1)');
  });

  it('accepts http port 0 (pick a free port) as an override', () => {
    expect(loadConfig({}, { httpPort: 0 }).httpPort).toBe(0);
  });

  it('accepts KSCORE_HTTP_PORT=0 from the environment', () => {
    expect(loadConfig({ KSCORE_HTTP_PORT: '0' }).httpPort).toBe(0);
  });
});

describe('security settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kscore-config-'));
  const file = (name: string, content: string): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\n');

  it('reads SASL over TLS with a password from a file (its final newline dropped)', () => {
    const c = loadConfig({
      KSCORE_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      KSCORE_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KSCORE_KAFKA_SASL_USERNAME: 'kscore',
      KSCORE_KAFKA_SASL_PASSWORD_FILE: file('pw', 'p@ss word\n'),
      KSCORE_KAFKA_TLS_CA_FILE: ca,
    });
    expect(c).toMatchObject({ kafkaSecurityProtocol: 'sasl_ssl', kafkaSaslMechanism: 'scram-sha-512', kafkaSaslPassword: 'p@ss word', kafkaTlsVerifyHostname: true });
  });

  it('reads the API tokens from a file', () => {
    const c = loadConfig({ KSCORE_API_TOKENS_FILE: file('tokens', 'ops:admin:0123456789abcdef0123\n') });
    expect(c.apiTokens).toEqual([{ owner: 'ops', role: 'admin', token: '0123456789abcdef0123' }]);
  });

  it('refuses a secret given both ways, and a secret file that cannot be read, naming the variable', () => {
    expect(configError({ KSCORE_REDIS_PASSWORD: 'a', KSCORE_REDIS_PASSWORD_FILE: file('r', 'b') }).message).toContain('KSCORE_REDIS_PASSWORD and KSCORE_REDIS_PASSWORD_FILE are both set');
    expect(configError({ KSCORE_REDIS_PASSWORD_FILE: join(dir, 'missing') }).message).toContain('KSCORE_REDIS_PASSWORD_FILE');
  });

  it('names settings that do not go together', () => {
    const msg = (env: Record<string, string>): string => configError(env).message;
    expect(msg({ KSCORE_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl' })).toContain('KSCORE_KAFKA_SASL_MECHANISM: needed');
    expect(msg({ KSCORE_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KSCORE_KAFKA_SASL_MECHANISM: 'plain' })).toMatch(/KSCORE_KAFKA_SASL_USERNAME: needed[\s\S]*KSCORE_KAFKA_SASL_PASSWORD: needed/);
    expect(msg({ KSCORE_KAFKA_SASL_MECHANISM: 'plain' })).toContain('KSCORE_KAFKA_SECURITY_PROTOCOL is plaintext');
    expect(msg({ KSCORE_KAFKA_TLS_CA_FILE: ca })).toContain('KSCORE_KAFKA_TLS_CA_FILE: set, but KSCORE_KAFKA_SECURITY_PROTOCOL is plaintext');
    expect(msg({ KSCORE_KAFKA_SECURITY_PROTOCOL: 'ssl', KSCORE_KAFKA_TLS_CERT_FILE: ca })).toContain('set both for mutual TLS');
    expect(msg({ KSCORE_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KSCORE_KAFKA_SASL_MECHANISM: 'oauthbearer' })).toContain('KSCORE_KAFKA_SASL_OAUTH_TOKEN_FILE or KSCORE_KAFKA_SASL_OAUTH_TOKEN_COMMAND');
    expect(msg({ KSCORE_SCHEMA_REGISTRY_USERNAME: 'u' })).toContain('set both for basic auth');
    expect(msg({ KSCORE_REDIS_TLS_CA_FILE: ca })).toContain('does not start with rediss://');
    expect(msg({ KSCORE_KAFKA_SECURITY_PROTOCOL: 'ssl', KSCORE_KAFKA_TLS_CA_FILE: join(dir, 'nope.pem') })).toContain('KSCORE_KAFKA_TLS_CA_FILE ("');
  });

  it('never echoes a secret in an error', () => {
    const err = configError({ KSCORE_KAFKA_SASL_PASSWORD: 'hunter2-secret', KSCORE_KAFKA_SECURITY_PROTOCOL: 'bogus' });
    expect(err.message).not.toContain('hunter2-secret');
  });

  it('masks every secret, and passwords in URLs, when printed', () => {
    const c = loadConfig({
      KSCORE_KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext',
      KSCORE_KAFKA_SASL_MECHANISM: 'plain',
      KSCORE_KAFKA_SASL_USERNAME: 'u',
      KSCORE_KAFKA_SASL_PASSWORD: 'kafka-secret',
      KSCORE_SCHEMA_REGISTRY_USERNAME: 'u',
      KSCORE_SCHEMA_REGISTRY_PASSWORD: 'registry-secret',
      KSCORE_REDIS_PASSWORD: 'redis-secret',
      REDIS_URL: 'redis://user:url-secret@cache:6379/0',
      KSCORE_API_TOKENS: 'ops:admin:token-secret-0123456789',
    });
    const printed = JSON.stringify(redactedConfig(c));
    for (const secret of ['kafka-secret', 'registry-secret', 'redis-secret', 'url-secret', 'token-secret']) expect(printed).not.toContain(secret);
    expect(printed).toContain('redis://user:***@cache:6379/0');
    expect(redactUrl('http://registry:8081')).toBe('http://registry:8081');
  });
});

describe('Kubernetes service links', () => {
  it('ignores the variables the kubelet injects for a Service named kscore (or kscore-admin)', () => {
    const env = {
      KSCORE_SERVICE_HOST: '10.96.0.12',
      KSCORE_SERVICE_PORT: '18080',
      KSCORE_SERVICE_PORT_HTTP: '18080',
      KSCORE_PORT: 'tcp://10.96.0.12:18080',
      KSCORE_PORT_18080_TCP: 'tcp://10.96.0.12:18080',
      KSCORE_PORT_18080_TCP_PROTO: 'tcp',
      KSCORE_PORT_18080_TCP_PORT: '18080',
      KSCORE_PORT_18080_TCP_ADDR: '10.96.0.12',
      KSCORE_ADMIN_SERVICE_HOST: '10.96.0.13',
      KSCORE_ADMIN_PORT: 'tcp://10.96.0.13:18080',
    };
    expect(loadConfig(env).httpPort).toBe(18080);
  });

  it('still refuses a typo that looks like one but carries a setting-like value', () => {
    expect(configError({ KSCORE_HTTP_PROT: '8080' }).message).toContain('KSCORE_HTTP_PROT');
    expect(configError({ KSCORE_METRICS_PORT: '9090' }).message).toContain('KSCORE_METRICS_PORT');
    expect(isServiceLink('KSCORE_PORT', 'tcp://10.0.0.1:80')).toBe(true);
    expect(isServiceLink('KSCORE_PORT', 'http://x')).toBe(false);
  });
});
