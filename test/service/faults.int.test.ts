/**
 * The fault suite: events stream at a steady rate into the real service, one fault is injected,
 * and every event read must come out as a prediction or a dead letter (nothing lost); duplicates
 * are counted. The faults act on scripts/stack's servers (kill, freeze, stop and start one, data
 * kept), or on a proxy in front of one.
 */
import avro from 'avsc';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, inject, it } from 'vitest';
import { wireEncode } from '../../src/codec/wire.js';
import type { Config, ConfigInput } from '../../src/config/index.js';
import { logistic, type BuiltModel } from '../../src/modelgen/models.js';
import { featureEventSchema, syntheticFeatures } from '../../src/producer/load-generator.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { RedisModelStore } from '../../src/registry/index.js';
import { eventually, listeningPort, runCli, type Child } from '../support/child.js';
import { cleanupAfterEach, killAtCleanup } from '../support/cleanup.js';
import { collect, deleteTopics, ensureTopics, envFor, header, kafkaFor, produceEvents, redisFor, testConfig, type Collected } from '../support/harness.js';
import { freezableProxy } from '../support/proxy.js';
import { register } from '../support/service.js';
import { stack } from '../support/stack.js';

const cleanups = cleanupAfterEach();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Served {
  child: Child;
  port: number;
  metrics: () => Promise<string>;
  readyz: () => Promise<{ ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> }>;
}

async function serve(config: Config, env: Record<string, string> = {}): Promise<Served> {
  const child = killAtCleanup(cleanups, runCli(['serve'], { ...envFor(config), KSCORE_HTTP_PORT: '0', KSCORE_LOG_LEVEL: 'info', ...env }));
  const port = await listeningPort(child);
  const url = `http://127.0.0.1:${port}`;
  const served: Served = {
    child,
    port,
    metrics: () => fetch(`${url}/metrics`).then((r) => r.text()),
    readyz: () => fetch(`${url}/readyz`).then((r) => r.json() as never),
  };
  await eventually(async () => ((await served.readyz()).ready ? true : undefined), 90_000, `the service on ${port} to be ready`);
  return served;
}

/** Records in a topic now (all partitions). */
async function records(config: Config, topic: string): Promise<number> {
  const admin = kafkaFor(config).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((s, o) => s + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until every event of the features topic has an output (prediction or dead letter) and
 * says how many outputs there were: `total - distinct` are duplicates.
 */
async function account(config: Config, timeoutMs = 180_000): Promise<{ events: number; distinct: number; total: number; deadLetters: number; outputs: Collected[] }> {
  const events = await records(config, config.featuresTopic);
  const seen = new Set<string>();
  const coordinates = (c: Collected): string => `${header(c.message, HEADERS.sourcePartition)}/${header(c.message, HEADERS.sourceOffset)}`;
  const outputs = await collect(config, [config.predictionsTopic, config.deadLetterTopic], (all) => seen.add(coordinates(all[all.length - 1]!)).size >= events, timeoutMs);
  const distinct = new Set(outputs.map(coordinates)).size;
  return { events, distinct, total: outputs.length, deadLetters: outputs.filter((o) => o.topic === config.deadLetterTopic).length, outputs };
}

/** The most events a member can have scored but not committed: its batches in flight. */
const inFlight = (c: Config): number => c.topicPartitions * c.maxInFlightBatches * c.maxBatchSize;

/** What a test needs to find out where events went missing or came out twice: outputs per source partition, the service's view and its log. */
async function explainShortfall(config: Config, outputs: Collected[], s: Served): Promise<void> {
  const admin = kafkaFor(config).admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(config.featuresTopic);
  const [committed] = await admin.fetchOffsets({ groupId: config.groupId, topics: [config.featuresTopic] });
  await admin.disconnect();
  const per = new Map<string, Map<number, number>>();
  for (const o of outputs) {
    const p = header(o.message, HEADERS.sourcePartition) ?? '?';
    const counts = per.get(p) ?? per.set(p, new Map()).get(p)!;
    const offset = Number(header(o.message, HEADERS.sourceOffset));
    counts.set(offset, (counts.get(offset) ?? 0) + 1);
  }
  const lines = ends.map((e) => {
    const got = per.get(String(e.partition)) ?? new Map<number, number>();
    const missing = Array.from({ length: Number(e.high) }, (_, i) => i).filter((i) => !got.has(i));
    const twice = [...got].filter(([, n]) => n > 1).map(([o]) => o).sort((a, b) => a - b);
    return `partition ${e.partition}: end ${e.high}, committed ${committed?.partitions.find((c) => c.partition === e.partition)?.offset}, missing ${missing.length} (first ${missing.slice(0, 5).join(',')}, last ${missing.slice(-3).join(',')}), duplicated ${twice.length} (${twice[0] ?? ''}..${twice.at(-1) ?? ''})`;
  });
  const readyz = await s.readyz().catch((err: unknown) => String(err));
  process.stderr.write(`outputs against events:\n${lines.join('\n')}\nexit code ${s.child.proc.exitCode}; readyz ${JSON.stringify(readyz)}\nservice log (last 80 lines but dead letters):\n${s.child.output().split('\n').filter((l) => !l.includes('event dead-lettered')).slice(-80).join('\n')}\n`);
}

function report(name: string, a: { events: number; distinct: number; total: number }): void {
  process.stderr.write(`fault ${name}: ${a.events} events in, ${a.distinct} scored or dead-lettered, ${a.total - a.distinct} duplicates\n`);
}

async function setup(overrides: Partial<ConfigInput> = {}): Promise<{ config: Config; model: BuiltModel }> {
  const config = testConfig({ sessionTimeoutMs: 6000, maxBatchSize: 256, stallAfterMs: 2000, lagIntervalMs: 500, ...overrides });
  cleanups.push(() => deleteTopics(config));
  const model = logistic(8, 9);
  await register(config, model, 'production');
  return { config, model };
}

const stream = (config: Config, model: BuiltModel, rate: number, seconds: number, badEvery = 0): Promise<number> =>
  produceEvents(config, { rate, durationMs: seconds * 1000, format: 'json', features: model.features, badEvery, seed: 5 });

describe('faults', { timeout: 300_000 }, () => {
  it('1. the broker killed with -9 mid-stream and restarted on its data: nothing lost, no more duplicates than the batches in flight', async () => {
    const { config, model } = await setup();
    const s = await serve(config);
    const producing = stream(config, model, 1500, 14, 200);
    await sleep(4000);
    await stack('kill', 'kafka');
    await sleep(3000);
    await stack('start', 'kafka');
    await producing;
    const a = await account(config);
    report('broker SIGKILL', a);
    if (a.distinct < a.events || a.total - a.distinct > inFlight(config)) await explainShortfall(config, a.outputs, s);
    expect(a.distinct).toBe(a.events);
    // The member is expired while the broker is away, so its last commits are lost; what it
    // acknowledged meanwhile is not scored again after it rejoins.
    expect(a.total - a.distinct).toBeLessThanOrEqual(inFlight(config));
  });

  it('2. the broker frozen for longer than the session timeout, then resumed', async () => {
    const { config, model } = await setup();
    const s = await serve(config);
    const producing = stream(config, model, 1500, 14);
    await sleep(3000);
    await stack('freeze', 'kafka');
    try {
      await sleep(10_000); // session timeout 6 s
    } finally {
      await stack('thaw', 'kafka');
    }
    await producing;
    const a = await account(config);
    report('broker frozen', a);
    expect(a.distinct).toBe(a.events);
    expect(a.total - a.distinct).toBeLessThanOrEqual(inFlight(config));
    expect(s.child.proc.exitCode).toBeNull(); // waited out, not crashed
  });

  it('3. Redis unreachable (a frozen path) during a promotion: the new version serves moments after it answers again', async () => {
    const base = testConfig();
    const redisUrl = new URL(base.redisUrl);
    const proxy = await freezableProxy(redisUrl.hostname, Number(redisUrl.port));
    cleanups.push(() => proxy.close());
    const { config, model } = await setup({ redisKeyPrefix: base.redisKeyPrefix, modelName: base.modelName });
    const v2 = await register(config, logistic(8, 10));
    const s = await serve(config, { REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    const producing = stream(config, model, 1000, 20);
    await sleep(2000);
    proxy.freeze();
    // Promoted while the service cannot reach Redis (the test writes to Redis directly).
    const redis = redisFor(config);
    await new RedisModelStore(redis, config.redisKeyPrefix).setAlias(config.modelName, 'production', v2.version, 'test');
    await redis.quit();
    const during = await records(config, config.predictionsTopic);
    await sleep(12_000); // past the Redis command timeout (10 s): reads fail and are retried
    const afterFreeze = await records(config, config.predictionsTopic);
    expect(afterFreeze).toBeGreaterThan(during); // scoring went on with the loaded model
    const thawed = Date.now();
    proxy.thaw();
    await eventually(async () => ((await s.metrics()).includes(`kscore_model_info{model="${config.modelName}",version="${v2.version}",alias="production"} 1`) ? true : undefined), 15_000, 'v2 to serve');
    process.stderr.write(`fault redis frozen: v2 served ${Date.now() - thawed} ms after Redis answered again\n`);
    await producing;
    const a = await account(config);
    report('redis frozen', a);
    expect(a.distinct).toBe(a.events);
  });

  it('4. Redis restarted (with persistence): the service scores on with its model meanwhile, and follows the registry after', async () => {
    const { config, model } = await setup();
    const s = await serve(config);
    const producing = stream(config, model, 1000, 16);
    await sleep(2000);
    await stack('stop', 'redis');
    const before = await records(config, config.predictionsTopic);
    await eventually(async () => ((await s.readyz()).checks['redis']?.ok === false ? true : undefined), 15_000, 'readiness to say Redis is away');
    await sleep(3000);
    expect(await records(config, config.predictionsTopic)).toBeGreaterThan(before);
    await stack('start', 'redis');
    await eventually(async () => ((await s.readyz()).ready ? true : undefined), 30_000, 'ready again');
    // The registry survived the restart (AOF): a promotion now is followed.
    const v2 = await register(config, logistic(8, 11), 'production');
    await eventually(async () => ((await s.metrics()).includes(`version="${v2.version}",alias="production"} 1`) ? true : undefined), 15_000, 'v2 to serve');
    await producing;
    const a = await account(config);
    report('redis restarted', a);
    expect(a.distinct).toBe(a.events);
  });

  it('5. the schema registry down while events with a new schema id arrive: retried and reported stalled, not dead-lettered, scored once it is back', async () => {
    const { config, model } = await setup({ inputFormat: 'avro' });
    const s = await serve(config);
    // A schema the service has not seen yet, registered before the registry goes down.
    const registry = new SchemaRegistry({ host: inject('servers').schemaRegistryUrl });
    const schema = { ...(featureEventSchema(model.features) as { fields: unknown[] }), name: `Fresh${Date.now()}`, fields: [...(featureEventSchema(model.features) as { fields: unknown[] }).fields, { name: 'extra', type: 'string', default: '' }] };
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject: `${config.featuresTopic}-fresh-value` });
    const type = avro.Type.forSchema(schema as avro.Schema);
    await stack('stop', 'registry');
    try {
      const kafka = kafkaFor(config);
      await ensureTopics(kafka, [config.featuresTopic], config.topicPartitions);
      const producer = kafka.producer();
      await producer.connect();
      const N = 300;
      await producer.send({
        topic: config.featuresTopic,
        messages: Array.from({ length: N }, (_, i) => ({ key: `k${i}`, value: wireEncode(id, type.toBuffer({ ...syntheticFeatures(i, model.features, 1), extra: 'x' })) })),
      });
      await producer.disconnect();
      await eventually(async () => {
        const r = await s.readyz();
        return r.checks['progress']?.ok === false && /has not advanced/.test(r.checks['progress'].detail ?? '') ? true : undefined;
      }, 30_000, 'the stall to be reported in /readyz');
      expect(await s.metrics()).toMatch(new RegExp(`kscore_partition_stalled_seconds\\{topic="${config.featuresTopic}",partition="\\d+"\\} [1-9]`));
      expect(await records(config, config.deadLetterTopic).catch(() => 0)).toBe(0);
    } finally {
      await stack('start', 'registry');
    }
    const a = await account(config);
    report('registry down', a);
    expect(a.distinct).toBe(a.events);
    expect(a.deadLetters).toBe(0);
    await eventually(async () => ((await s.readyz()).checks['progress']?.ok === true ? true : undefined), 30_000, 'progress to be reported again');
  });

  it('6. SIGTERM under load: exit 0, nothing lost, no more duplicates than the batches in flight', async () => {
    const { config, model } = await setup();
    const first = await serve(config);
    const producing = stream(config, model, 3000, 10);
    await sleep(4000);
    first.child.proc.kill('SIGTERM');
    expect(await first.child.exited).toBe(0);
    await serve(config);
    await producing;
    const a = await account(config);
    report('SIGTERM', a);
    expect(a.distinct).toBe(a.events);
    expect(a.total - a.distinct).toBeLessThanOrEqual(inFlight(config));
  });

  it('7. two replicas, one restarted while the other runs, under load', async () => {
    const { config, model } = await setup({ topicPartitions: 4 });
    const a1 = await serve(config);
    await serve(config);
    const producing = stream(config, model, 2000, 14);
    await sleep(4000);
    a1.child.proc.kill('SIGTERM');
    expect(await a1.child.exited).toBe(0);
    await serve(config);
    await producing;
    const a = await account(config);
    report('replica restarted', a);
    expect(a.distinct).toBe(a.events);
  });

  it('8. a dead letter over the broker limit, a shadow topic deleted mid-stream, and an event whose schema the decoder cannot use', async () => {
    const { config, model } = await setup({ shadowAlias: 'shadow' });
    await register(config, logistic(8, 12), 'shadow');
    // The dead-letter topic takes at most 20 kB per record, far below the service's own cut.
    const kafka = kafkaFor(config);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: config.deadLetterTopic, numPartitions: 3, configEntries: [{ name: 'max.message.bytes', value: '20000' }] }], waitForLeaders: false });
    await eventually(() => admin.fetchTopicOffsets(config.deadLetterTopic).then(() => true, () => undefined), 30_000, 'the dead-letter topic to be served');
    await admin.disconnect();
    const s = await serve(config);
    const shadowTopic = `${config.predictionsTopic}.shadow`;
    // A Protobuf schema importing a file the registry does not have: the service cannot compile it.
    const registered = await fetch(`${inject('servers').schemaRegistryUrl}/subjects/${config.featuresTopic}-proto-value/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schemaType: 'PROTOBUF', schema: 'syntax = "proto3";\nimport "missing/thing.proto";\nmessage Event { missing.Thing t = 1; }\n', references: [] }),
    }).then((r) => r.json() as Promise<{ id: number }>);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: config.featuresTopic,
      messages: [
        { key: 'same', value: `{"huge":"${'x'.repeat(60_000)}"` }, // not JSON, and 60 kB
        { key: 'same', value: wireEncode(registered.id, Buffer.from([0, 8, 1])) },
        ...Array.from({ length: 50 }, (_, i) => ({ key: 'same', value: JSON.stringify(syntheticFeatures(i, model.features, 2)) })),
      ],
    });
    await producer.disconnect();
    const producing = stream(config, model, 1000, 10);
    await sleep(3000);
    const admin2 = kafka.admin();
    await admin2.connect();
    await admin2.deleteTopics({ topics: [shadowTopic] });
    await admin2.disconnect();
    await producing;
    const a = await account(config);
    report('dead letter, shadow, schema', a);
    expect(a.distinct).toBe(a.events);
    const dead = a.outputs.filter((o) => o.topic === config.deadLetterTopic);
    const huge = dead.find((d) => header(d.message, HEADERS.dlqReason) === 'decode-error');
    expect(huge).toBeDefined();
    expect(header(huge!.message, HEADERS.dlqTruncated)).toBe('true');
    expect(Number(header(huge!.message, HEADERS.dlqOriginalSize))).toBeGreaterThan(60_000);
    expect(huge!.message.value!.length).toBeLessThan(20_000);
    const proto = dead.find((d) => header(d.message, HEADERS.dlqReason) === 'unsupported-schema');
    expect(header(proto!.message, HEADERS.dlqDetail)).toContain('PROTOBUF');
    // The shadow's trouble never held back the primary output; it was counted.
    expect(await s.metrics()).toMatch(/kscore_shadow_write_failures_total{model="[^"]+"} [1-9]/);
  });
});
