import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
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
