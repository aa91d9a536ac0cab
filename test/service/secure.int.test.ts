/**
 * The service against secured servers (scripts/stack's TLS and SASL listeners, the TLS Redis with
 * an ACL user, the registry behind TLS and basic auth), and the errors a wrong setting gives.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, inject, it } from 'vitest';
import type { Config, ConfigInput } from '../../src/config/index.js';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { syntheticFeatures } from '../../src/producer/load-generator.js';
import { ReplayJobs } from '../../src/replay/jobs.js';
import { ScoringService } from '../../src/service/service.js';
import { eventually, runCli } from '../support/child.js';
import { cleanupAfterEach } from '../support/cleanup.js';
import { collect, deleteTopics, envFor, header, produceEvents, testConfig, testLog } from '../support/harness.js';

const cleanups = cleanupAfterEach();

function secured(): Record<string, string> {
  const s = inject('servers').secure;
  if (s === undefined) throw new Error("these tests need scripts/stack's secured servers (scripts/stack up)");
  return s;
}

/** SASL_SSL (SCRAM-SHA-512) to Kafka, TLS + basic auth to the registry, TLS + ACL user to Redis. */
function secureConfig(overrides: Partial<ConfigInput> = {}): Config {
  const s = secured();
  return testConfig({
    kafkaBrokers: s['KAFKA_SASL_SSL_BROKERS'],
    kafkaSecurityProtocol: 'sasl_ssl',
    kafkaSaslMechanism: 'scram-sha-512',
    kafkaSaslUsername: s['STACK_SECURE_USER'],
    kafkaSaslPassword: s['STACK_SECURE_PASSWORD'],
    kafkaTlsCaFile: s['STACK_TLS_CA'],
    schemaRegistryUrl: s['SCHEMA_REGISTRY_TLS_URL'],
    schemaRegistryUsername: s['STACK_SECURE_USER'],
    schemaRegistryPassword: s['STACK_SECURE_PASSWORD'],
    schemaRegistryCaFile: s['STACK_TLS_CA'],
    redisUrl: s['REDIS_TLS_URL'],
    redisUsername: s['STACK_SECURE_USER'],
    redisPassword: s['STACK_SECURE_PASSWORD'],
    redisTlsCaFile: s['STACK_TLS_CA'],
    ...overrides,
  });
}

/** The same topics reached over the plaintext listener: the tests' own client writes and reads there. */
function plainView(config: Config): Config {
  const servers = inject('servers');
  return testConfig({
    kafkaBrokers: servers.kafkaBrokers,
    schemaRegistryUrl: servers.schemaRegistryUrl,
    featuresTopic: config.featuresTopic,
    predictionsTopic: config.predictionsTopic,
    deadLetterTopic: config.deadLetterTopic,
    groupId: config.groupId,
    modelName: config.modelName,
    redisKeyPrefix: config.redisKeyPrefix,
  });
}

/** Registers a model with the CLI, as a user would, into the secured Redis. */
async function registerWithCli(config: Config, features: number): Promise<ReturnType<typeof logistic>> {
  const model = logistic(features, 5);
  const dir = await mkdtemp(join(tmpdir(), 'kscore-secure-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'model.onnx');
  await writeFile(file, model.bytes);
  const reg = runCli(['model', 'register', '--file', file, '--features', model.features.join(','), '--alias', 'production'], envFor(config));
  expect(await reg.exited, reg.output()).toBe(0);
  return model;
}

function referenceScore(model: ReturnType<typeof logistic>, i: number, seed: number): number {
  const ev = syntheticFeatures(i, model.features, seed);
  return Number(model.reference(Float32Array.from(model.features.map((f) => ev[f]!)), 1)['score']![0]!);
}

describe('secured servers', () => {
  it('scores Avro events over SASL_SSL (SCRAM-SHA-512) with the registry behind TLS and basic auth and Redis over TLS; lag and replay work too', async () => {
    const config = secureConfig({ inputFormat: 'avro', outputFormat: 'avro', lagIntervalMs: 300 });
    const plain = plainView(config);
    cleanups.push(() => deleteTopics(plain));
    const model = await registerWithCli(config, 6);
    const service = await ScoringService.create(config, testLog);
    cleanups.push(() => service.close());
    const { httpUrl } = await service.start();
    await eventually(async () => ((await fetch(`${httpUrl}/readyz`)).ok ? true : undefined), 60_000, 'the service to be ready');

    const N = 400;
    await produceEvents(plain, { rate: 0, count: N, format: 'avro', features: model.features, seed: 4 });
    const got = await collect(plain, [config.predictionsTopic], (all) => all.length >= N);
    expect(got).toHaveLength(N);
    const registry = new SchemaRegistry({ host: inject('servers').schemaRegistryUrl });
    for (const { message } of got.slice(0, 50)) {
      const p = (await registry.decode(message.value!)) as { score: number; version: string };
      const i = Number(message.key!.toString().slice(1));
      expect(p.score).toBeCloseTo(referenceScore(model, i, 4), 6);
      expect(header(message, HEADERS.version)).toBe('1');
    }

    // The lag poller reads the group's offsets over the same secured connection.
    await eventually(async () => {
      const text = await fetch(`${httpUrl}/metrics`).then((r) => r.text());
      const lags = [...text.matchAll(/^kscore_consumer_lag\{topic="([^"]+)",partition="\d+"\} (\d+)$/gm)].filter((m) => m[1] === config.featuresTopic);
      return lags.length === config.topicPartitions && lags.every((m) => m[2] === '0') ? true : undefined;
    }, 60_000, 'lag 0 on every partition');

    // A replay (worker threads with their own secured clients) over the same records.
    const dir = await mkdtemp(join(tmpdir(), 'kscore-secure-replay-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const jobs = await ReplayJobs.create(config, testLog);
    cleanups.push(() => jobs.close());
    const id = await jobs.start({ output: { kind: 'file', path: join(dir, 'out.jsonl') } });
    const status = await jobs.wait(id);
    expect(status?.state, status?.error).toBe('succeeded');
    expect(status?.progress?.predictions).toBe(N);
  });

  it('scores over mutual TLS (SSL listener, client certificate)', async () => {
    const s = secured();
    const config = testConfig({
      kafkaBrokers: s['KAFKA_SSL_BROKERS'],
      kafkaSecurityProtocol: 'ssl',
      kafkaTlsCaFile: s['STACK_TLS_CA'],
      kafkaTlsCertFile: s['STACK_TLS_CLIENT_CERT'],
      kafkaTlsKeyFile: s['STACK_TLS_CLIENT_KEY'],
    });
    const plain = plainView(config);
    cleanups.push(() => deleteTopics(plain));
    const model = await registerWithCli(plain, 4);
    const service = await ScoringService.create(config, testLog);
    cleanups.push(() => service.close());
    await service.start();
    await produceEvents(plain, { rate: 0, count: 200, format: 'json', features: model.features, seed: 1 });
    expect(await collect(plain, [config.predictionsTopic], (all) => all.length >= 200)).toHaveLength(200);
  });

  /** An unsigned JWT (alg none), which the stack's OAUTHBEARER listeners accept (Kafka's unsecured validator). */
  function unsignedJwt(subject: string, lifetimeSeconds: number): string {
    const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    return `${part({ alg: 'none' })}.${part({ sub: subject, iat: now, exp: now + lifetimeSeconds })}.`;
  }

  it('scores over SASL_SSL with OAUTHBEARER, the token read from a file or printed by a command', async () => {
    const s = secured();
    const dir = await mkdtemp(join(tmpdir(), 'kscore-oauth-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${unsignedJwt('kscore', 3600)}\n`);
    const base = {
      kafkaBrokers: s['KAFKA_SASL_SSL_BROKERS'],
      kafkaSecurityProtocol: 'sasl_ssl',
      kafkaSaslMechanism: 'oauthbearer',
      kafkaTlsCaFile: s['STACK_TLS_CA'],
    } as const;
    const config = testConfig({ ...base, kafkaSaslOauthTokenFile: tokenFile });
    const plain = plainView(config);
    cleanups.push(() => deleteTopics(plain));
    const model = await registerWithCli(plain, 4);
    const first = await ScoringService.create(config, testLog);
    await first.start();
    await produceEvents(plain, { rate: 0, count: 200, format: 'json', features: model.features, seed: 1 });
    expect(await collect(plain, [config.predictionsTopic], (all) => all.length >= 200)).toHaveLength(200);
    await first.close();

    const second = await ScoringService.create({ ...config, kafkaSaslOauthTokenFile: undefined, kafkaSaslOauthTokenCommand: `cat '${tokenFile}'` }, testLog);
    cleanups.push(() => second.close());
    await second.start();
    await produceEvents(plain, { rate: 0, count: 100, format: 'json', features: model.features, seed: 2 });
    expect(await collect(plain, [config.predictionsTopic], (all) => all.length >= 300)).toHaveLength(300);
  });

  /** Starts `kscore serve` with `config`; expects it to stop at once with exit 2 and one error naming what to check. */
  async function refusedAtStart(config: Config, expected: RegExp[], extraEnv: Record<string, string> = {}): Promise<string> {
    const started = Date.now();
    const child = runCli(['serve'], { ...envFor(config), KSCORE_LOG_LEVEL: 'warn', ...extraEnv });
    cleanups.push(async () => {
      child.proc.kill('SIGKILL');
      await child.exited;
    });
    const code = await Promise.race([child.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 60_000))]);
    expect(code, child.output()).toBe(2);
    const out = child.output();
    for (const re of expected) expect(out).toMatch(re);
    // One clear error, not a retry loop.
    expect(out.match(/^kscore: /gm)).toHaveLength(1);
    process.stderr.write(`refused in ${Date.now() - started} ms: ${out.trim().split('\n').pop()}\n`);
    return out;
  }

  it('refuses a wrong Kafka password with one error naming the settings, and never prints the password', async () => {
    const config = secureConfig({ kafkaSaslPassword: 'not-the-password' });
    const out = await refusedAtStart(config, [/authentication/i, /KSCORE_KAFKA_SASL_PASSWORD/]);
    expect(out).not.toContain('not-the-password');
  });

  it('refuses an expired OAUTHBEARER token at once, saying the broker refused it and when it expired', async () => {
    const s = secured();
    const dir = await mkdtemp(join(tmpdir(), 'kscore-oauth-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, unsignedJwt('kscore', -3600));
    const config = testConfig({
      kafkaBrokers: s['KAFKA_SASL_SSL_BROKERS'],
      kafkaSecurityProtocol: 'sasl_ssl',
      kafkaSaslMechanism: 'oauthbearer',
      kafkaTlsCaFile: s['STACK_TLS_CA'],
      kafkaSaslOauthTokenFile: tokenFile,
    });
    await refusedAtStart(config, [/refused the token/, /the token expired at/, /OAUTHBEARER token/]);
  });

  it('refuses a broker certificate signed by a CA the settings do not trust, and one for another host name', async () => {
    const s = secured();
    await refusedAtStart(secureConfig({ kafkaTlsCaFile: s['STACK_TLS_OTHER_CA'] }), [/TLS/, /KSCORE_KAFKA_TLS/]);
    await refusedAtStart(secureConfig({ kafkaBrokers: s['KAFKA_WRONG_HOST_BROKERS'] }), [/TLS/, /ERR_TLS_CERT_ALTNAME_INVALID|altnames|Hostname/i]);
  });

  it('refuses a wrong Redis password, and registry credentials the registry rejects, naming the settings', async () => {
    await refusedAtStart(secureConfig({ redisPassword: 'wrong-redis-password' }), [/Redis refused the credentials/, /KSCORE_REDIS_PASSWORD/]);
    // Avro predictions register their schema at start-up: the registry's refusal stops the start.
    await refusedAtStart(secureConfig({ outputFormat: 'avro', schemaRegistryPassword: 'wrong-registry-password' }), [/refused the credentials/, /KSCORE_SCHEMA_REGISTRY_PASSWORD/]);
  });

  it('reads secrets from files, and `kscore config` shows none of them', async () => {
    const s = secured();
    const dir = await mkdtemp(join(tmpdir(), 'kscore-secrets-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'password');
    await writeFile(file, `${s['STACK_SECURE_PASSWORD']}\n`);
    const config = secureConfig();
    const env: Record<string, string> = { ...envFor(config), KSCORE_KAFKA_SASL_PASSWORD_FILE: file, KSCORE_REDIS_PASSWORD_FILE: file, KSCORE_SCHEMA_REGISTRY_PASSWORD_FILE: file };
    delete env['KSCORE_KAFKA_SASL_PASSWORD'];
    delete env['KSCORE_REDIS_PASSWORD'];
    delete env['KSCORE_SCHEMA_REGISTRY_PASSWORD'];
    const shown = runCli(['config'], env);
    expect(await shown.exited).toBe(0);
    expect(shown.output()).not.toContain(s['STACK_SECURE_PASSWORD']!);
    expect(JSON.parse(shown.output())).toMatchObject({ kafkaSaslPassword: '***', redisPassword: '***', schemaRegistryPassword: '***' });
    // And with them the CLI reaches the secured Redis.
    const list = runCli(['model', 'list', '--name', config.modelName], env);
    expect(await list.exited, list.output()).toBe(0);
  });
});
