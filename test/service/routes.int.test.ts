import { describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config/index.js';
import { logistic, type BuiltModel } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { syntheticFeatures } from '../../src/producer/load-generator.js';
import { RedisModelStore, registerModel } from '../../src/registry/index.js';
import { ScoringService } from '../../src/service/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';
import { collect, ensureTopics, header, kafkaFor, redisFor, testConfig, testLog, uniqueId, type Collected } from '../support/harness.js';

// Three models in one service: two topics each routed to a model, and a third topic split between
// two models by a header. One consumer group reads all three. Under load, two models are promoted
// to a new version while the third stays: every prediction lands on its model's topic, and its
// score is the one the version named in its header computes.

const cleanups = cleanupAfterEach();
const FEATURES = 4;

interface Setup {
  config: Config;
  topics: { payments: string; accounts: string; mixed: string };
  names: { fraud: string; churn: string; spam: string };
}

function setup(): Setup {
  const id = uniqueId();
  const topics = { payments: `r-${id}-payments`, accounts: `r-${id}-accounts`, mixed: `r-${id}-mixed` };
  const names = { fraud: `fraud-${id}`, churn: `churn-${id}`, spam: `spam-${id}` };
  const routes = [
    { topic: topics.payments, model: names.fraud },
    { topic: topics.accounts, model: names.churn },
    { topic: topics.mixed, header: 'team', value: 'churn', model: names.churn },
    { topic: topics.mixed, header: 'team', value: 'spam', model: names.spam },
  ];
  return { config: testConfig({ routes: JSON.stringify(routes) } as never), topics, names };
}

async function register(config: Config, name: string, model: BuiltModel, alias = config.modelAlias): Promise<string> {
  const redis = redisFor(config);
  try {
    const meta = await registerModel(new RedisModelStore(redis, config.redisKeyPrefix), name, { bytes: Buffer.from(model.bytes), features: model.features }, { alias, actor: 'test' });
    return meta.version;
  } finally {
    await redis.quit();
  }
}

/** The reference score of event `i` (features from `seed`) under `model`. */
/** The service on `config`, started; closed at clean-up and `topics` deleted. */
async function startRouted(config: Config, topics: string[]): Promise<{ service: ScoringService; httpUrl: string }> {
  const service = await ScoringService.create(config, testLog);
  cleanups.push(async () => {
    await service.close();
    const admin = kafkaFor(config).admin();
    await admin.connect();
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });
  const { httpUrl } = await service.start();
  return { service, httpUrl };
}

function reference(model: BuiltModel, i: number, seed: number): number {
  const ev = syntheticFeatures(i, model.features, seed);
  const row = Float32Array.from(model.features.map((f) => ev[f]!));
  return (model.reference(row, 1)['score'] as Float32Array)[0]!;
}

describe('several models in one service, routed by topic and by header, against real Kafka and Redis', () => {
  it('scores each event with the model its topic or header names, by the version its header names, while two models are promoted under load', async () => {
    const { config, topics, names } = setup();
    const versions: Record<string, BuiltModel[]> = {
      [names.fraud]: [logistic(FEATURES, 1), logistic(FEATURES, 2)],
      [names.churn]: [logistic(FEATURES, 3)],
      [names.spam]: [logistic(FEATURES, 4), logistic(FEATURES, 5)],
    };
    for (const [name, [v1]] of Object.entries(versions)) expect(await register(config, name, v1!)).toBe('1');
    const kafka = kafkaFor(config);
    const outputs = [...Object.values(names).flatMap((n) => [`${n}.predictions`, `${n}.dlq`]), `${topics.mixed}.dlq`];
    const { service, httpUrl } = await startRouted(config, [...Object.values(topics), ...outputs]);
    await vi.waitFor(async () => expect((await service.readiness()).ready).toBe(true), { timeout: 60_000, interval: 100 });
    expect((await service.readiness()).checks['model']?.detail).toBe(`${names.fraud} v1, ${names.churn} v1, ${names.spam} v1`);

    const producer = kafka.producer();
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
    const SEED = 7;
    const PER_ROUND = 40;
    const ROUNDS = 12;
    let sent = 0;
    const round = async (r: number): Promise<void> => {
      const idx = Array.from({ length: PER_ROUND }, (_, j) => r * PER_ROUND + j);
      const value = (i: number): string => JSON.stringify(syntheticFeatures(i, versions[names.fraud]![0]!.features, SEED));
      await producer.sendBatch({
        topicMessages: [
          { topic: topics.payments, messages: idx.map((i) => ({ key: `p${i}`, value: value(i) })) },
          { topic: topics.accounts, messages: idx.map((i) => ({ key: `a${i}`, value: value(i) })) },
          { topic: topics.mixed, messages: idx.map((i) => ({ key: `m${i}`, value: value(i), headers: { team: i % 2 === 0 ? 'churn' : 'spam' } })) },
        ],
      });
      sent += 3 * PER_ROUND;
    };
    const serving = (name: string): string | undefined => service.models.get(name)?.current()?.version;
    for (let r = 0; r < ROUNDS; r++) {
      await round(r);
      // Promotions while events flow: fraud after a third of the rounds, spam after two thirds.
      if (r === 3) expect(await register(config, names.fraud, versions[names.fraud]![1]!)).toBe('2');
      if (r === 7) expect(await register(config, names.spam, versions[names.spam]![1]!)).toBe('2');
    }
    await vi.waitFor(() => expect([serving(names.fraud), serving(names.churn), serving(names.spam)]).toEqual(['2', '1', '2']), { timeout: 30_000, interval: 50 });
    // The last round goes out once both promotions serve, so each model's new version scores some.
    await round(ROUNDS);
    await producer.send({ topic: topics.mixed, messages: [{ key: 'nobody', value: JSON.stringify({}), headers: { team: 'ops' } }] });

    const distinct = (all: Collected[]): number => new Set(all.map((g) => `${g.topic}/${g.message.key?.toString()}`)).size;
    const got = await collect(config, outputs, (all) => distinct(all) >= sent + 1, 90_000);
    const seen = new Map<string, Collected>();
    for (const g of got) seen.set(`${g.topic}/${g.message.key?.toString()}`, g);
    expect(seen.size).toBe(sent + 1);

    const unrouted = [...seen.values()].filter((g) => g.topic === `${topics.mixed}.dlq`);
    expect(unrouted.map((g) => [g.message.key?.toString(), header(g.message, HEADERS.dlqReason)])).toEqual([['nobody', 'no-route']]);
    expect(header(unrouted[0]!.message, HEADERS.dlqDetail)).toBe('header team is "ops"; routes take churn, spam');

    const byModel = new Map<string, Set<string>>();
    for (const g of seen.values()) {
      if (g.topic.endsWith('.dlq')) continue;
      const model = g.topic.slice(0, -'.predictions'.length);
      const key = g.message.key!.toString();
      const source = header(g.message, HEADERS.sourceTopic);
      const i = Number(key.slice(1));
      // Each topic, and each header value, went to its own model.
      const expected = source === topics.payments ? names.fraud : source === topics.accounts ? names.churn : i % 2 === 0 ? names.churn : names.spam;
      expect(model, key).toBe(expected);
      const value = JSON.parse(g.message.value!.toString()) as { model: string; version: string; score: number };
      const version = header(g.message, HEADERS.version)!;
      expect([value.model, value.version, header(g.message, HEADERS.model)]).toEqual([model, version, model]);
      expect(Math.abs(value.score - reference(versions[model]![Number(version) - 1]!, i, SEED)), `${key} by ${model} v${version}`).toBeLessThan(1e-6);
      byModel.set(model, (byModel.get(model) ?? new Set()).add(version));
    }
    expect(Object.fromEntries([...byModel].map(([m, v]) => [m, [...v].sort()]))).toEqual({ [names.fraud]: ['1', '2'], [names.churn]: ['1'], [names.spam]: ['1', '2'] });

    // Metrics are per model: each model's predictions counted under its own label.
    const counted = [...seen.values()].filter((g) => !g.topic.endsWith('.dlq'));
    const perModel = (name: string): number => counted.filter((g) => g.topic === `${name}.predictions`).length;
    await vi.waitFor(async () => {
      const text = await fetch(`${httpUrl}/metrics`).then((r) => r.text());
      const value = (name: string): number => Number(new RegExp(`^kscore_predictions_total\\{model="${name}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? -1);
      for (const name of Object.values(names)) expect(value(name), name).toBeGreaterThanOrEqual(perModel(name));
      expect(text).toMatch(new RegExp(`^kscore_dead_letters_total\\{reason="no-route",model=""\\} 1$`, 'm'));
    }, { timeout: 10_000, interval: 100 });
  });

  it("runs a canary on one model and a shadow on another, each on its own model's topics", async () => {
    const { config, topics, names } = setup();
    const fraud = [logistic(FEATURES, 11), logistic(FEATURES, 12)];
    const churn = [logistic(FEATURES, 13), logistic(FEATURES, 14)];
    await register(config, names.fraud, fraud[0]!);
    await register(config, names.fraud, fraud[1]!, 'canary');
    await register(config, names.churn, churn[0]!);
    await register(config, names.churn, churn[1]!, 'shadow');
    await register(config, names.spam, logistic(FEATURES, 15));
    const redis = redisFor(config);
    await new RedisModelStore(redis, config.redisKeyPrefix).setSplit(names.fraud, { alias: 'canary', share: 0.5 }, 'test');
    await redis.quit();
    const kafka = kafkaFor(config);
    const { service, httpUrl } = await startRouted(config, [...Object.values(topics), ...Object.values(names).flatMap((n) => [`${n}.predictions`, `${n}.predictions.shadow`, `${n}.dlq`]), `${topics.mixed}.dlq`]);
    await vi.waitFor(() => {
      expect(service.models.get(names.fraud)?.currentPlan()?.canary?.model.version).toBe('2');
      expect(service.models.get(names.churn)?.currentPlan()?.shadow?.version).toBe('2');
    }, { timeout: 30_000, interval: 50 });

    const N = 400;
    const SEED = 3;
    const value = (i: number): string => JSON.stringify(syntheticFeatures(i, fraud[0]!.features, SEED));
    const producer = kafka.producer();
    await producer.connect();
    await producer.sendBatch({
      topicMessages: [
        { topic: topics.payments, messages: Array.from({ length: N }, (_, i) => ({ key: `p${i}`, value: value(i) })) },
        { topic: topics.accounts, messages: Array.from({ length: N }, (_, i) => ({ key: `a${i}`, value: value(i) })) },
      ],
    });
    await producer.disconnect();
    const read = [`${names.fraud}.predictions`, `${names.churn}.predictions`, `${names.churn}.predictions.shadow`];
    const got = await collect(config, read, (all) => all.length >= 3 * N, 90_000);
    const on = (topic: string): Collected[] => got.filter((g) => g.topic === topic);
    const versionAndScore = (g: Collected): [string, number, number] => {
      const i = Number(g.message.key!.toString().slice(1));
      const v = header(g.message, HEADERS.version)!;
      return [v, (JSON.parse(g.message.value!.toString()) as { score: number }).score, i];
    };

    // fraud: each key scored by the canary or the primary, about half each, each score its version's.
    const fraudVersions = on(`${names.fraud}.predictions`).map(versionAndScore);
    expect(fraudVersions).toHaveLength(N);
    for (const [v, score, i] of fraudVersions) expect(Math.abs(score - reference(fraud[Number(v) - 1]!, i, SEED))).toBeLessThan(1e-6);
    const onCanary = fraudVersions.filter(([v]) => v === '2').length;
    expect(onCanary).toBeGreaterThan(N * 0.3);
    expect(onCanary).toBeLessThan(N * 0.7);
    // churn: the primary's predictions on its topic, the shadow's on its shadow topic, one each per event.
    expect(on(`${names.churn}.predictions`).map(versionAndScore).every(([v, score, i]) => v === '1' && Math.abs(score - reference(churn[0]!, i, SEED)) < 1e-6)).toBe(true);
    const shadow = on(`${names.churn}.predictions.shadow`).map(versionAndScore);
    expect(shadow).toHaveLength(N);
    expect(shadow.every(([v, score, i]) => v === '2' && Math.abs(score - reference(churn[1]!, i, SEED)) < 1e-6)).toBe(true);

    await vi.waitFor(async () => {
      const text = await fetch(`${httpUrl}/metrics`).then((r) => r.text());
      expect(text).toContain(`kscore_canary_share{model="${names.fraud}",alias="canary"} 0.5`);
      const compared = [...text.matchAll(new RegExp(`^kscore_shadow_comparisons_total\\{outcome="(?:agree|disagree)",model="${names.churn}"\\} (\\d+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
      expect(compared).toBe(N);
    }, { timeout: 10_000, interval: 100 });
  });
});
