import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { eventually } from '../support/child.js';
import { collect, header, produceEvents, redisFor, testConfig } from '../support/harness.js';
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS, apiCaller, register, startService } from '../support/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

describe('replay jobs over the admin API', () => {
  it('starts a replay of an offset range, reports its progress, and enforces tokens and the output folder', async () => {
    const config = testConfig({ apiTokens: TEST_TOKENS, modelRefreshMs: 60_000 });
    const model = logistic(8, 1);
    await register(config, model, 'production');
    const { url } = await startService(config, cleanups);
    await produceEvents(config, { rate: 0, count: 600, format: 'json', features: model.features });
    // The online path scores them all first.
    await collect(config, [config.predictionsTopic], (all) => all.length >= 600);

    const call = apiCaller(url);
    const output = `${config.predictionsTopic}.backfill`;
    const params = {
      source: { topic: config.featuresTopic },
      from: { offset: 50 },
      model: { name: config.modelName, version: '1' },
      output: { kind: 'topic', topic: output },
      tuning: { threads: 1 },
    };
    expect((await call('POST', '/api/v1/replays', undefined, params)).status).toBe(401);
    expect((await call('POST', '/api/v1/replays', READ_TOKEN, params)).status).toBe(403);
    expect((await call('POST', '/api/v1/replays', ADMIN_TOKEN, { ...params, model: { version: '9' } })).status).toBe(400);
    const escape = await call('POST', '/api/v1/replays', ADMIN_TOKEN, { ...params, output: { kind: 'file', path: '../../etc/x.jsonl' } });
    expect(escape.status).toBe(400);
    expect(escape.json.message).toMatch(/inside the replay output folder/);

    const started = await call('POST', '/api/v1/replays', ADMIN_TOKEN, params);
    expect(started.status).toBe(202);
    const id = started.json.id as string;
    const done = await eventually(async () => {
      const s = await call('GET', `/api/v1/replays/${id}`, READ_TOKEN);
      return s.json?.state === 'succeeded' ? s.json : undefined;
    }, 60_000, 'the replay to finish');
    // 600 events over 3 partitions, from offset 50 on each.
    const expected = 600 - 3 * 50;
    expect(done.progress.predictions).toBe(expected);
    expect(done.plan.model.version).toBe('1');
    const list = await call('GET', '/api/v1/replays', READ_TOKEN);
    expect(list.json.map((j: { id: string }) => j.id)).toContain(id);

    const got = await collect(config, [output], (all) => all.length >= expected);
    expect(got).toHaveLength(expected);
    expect(got.every((g) => Number(header(g.message, HEADERS.sourceOffset)) >= 50)).toBe(true);
    const metrics = await fetch(`${url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(new RegExp(`kscore_replay_progress_ratio\\{replay_job="${id}"\\} 1`));
    expect(metrics).toContain('# TYPE kscore_replay_offsets_done_total counter');
    expect(metrics).toContain(`kscore_replay_offsets_done_total{replay_job="${id}"} ${expected}`);
    expect(metrics).toContain(`kscore_replay_records_total{replay_job="${id}",kind="prediction"} ${expected}`);
    expect((await call('GET', '/api/v1/replays/nope', READ_TOKEN)).status).toBe(404);

    // Never silently into the live predictions topic: no output is the backfill topic, naming the
    // live one is refused, and asking for it with output.live is recorded with the token's owner.
    const live = await call('POST', '/api/v1/replays', ADMIN_TOKEN, { ...params, output: { kind: 'topic', topic: config.predictionsTopic } });
    expect(live.status).toBe(400);
    expect(live.json.message).toMatch(/is the live predictions topic.*output\.live/);
    const { output: _named, ...unnamed } = params;
    const backfill = await call('POST', '/api/v1/replays', ADMIN_TOKEN, { ...unnamed, from: { offset: 199 } });
    expect(backfill.status).toBe(202);
    expect(backfill.json.plan.output.topic).toBe(`${config.predictionsTopic}.backfill`);
    const asked = await call('POST', '/api/v1/replays', ADMIN_TOKEN, { ...unnamed, from: { offset: 199 }, output: { kind: 'topic', live: true } });
    expect(asked.status).toBe(202);
    expect(asked.json.plan.output).toMatchObject({ topic: config.predictionsTopic, live: true });
    const audit = await call('GET', '/api/v1/audit?limit=5', READ_TOKEN);
    expect(audit.json[0]).toMatchObject({ actor: 'alice', action: 'replay-into-live-topic', job: asked.json.id });
    for (const j of [backfill.json.id as string, asked.json.id as string]) {
      await eventually(async () => ((await call('GET', `/api/v1/replays/${j}`, READ_TOKEN)).json?.state === 'succeeded' ? true : undefined), 60_000, `replay ${j}`);
    }

    // A finished job expires from Redis after the retention time (here the default 7 days).
    const redis = redisFor(config);
    try {
      const ttl = await redis.pttl(`${config.redisKeyPrefix}replay:job:${id}`);
      expect(ttl).toBeGreaterThan(6 * 24 * 3600 * 1000);
      expect(ttl).toBeLessThanOrEqual(7 * 24 * 3600 * 1000);
    } finally {
      await redis.quit();
    }
  });

  it('caps replays started over HTTP: topics outside the allow-list are refused, and jobs beyond the limit wait their turn', async () => {
    const config = testConfig({ apiTokens: TEST_TOKENS, replayMaxJobs: 1, replayAllowedTopics: 't-features-*,t-predictions-*' });
    const model = logistic(8, 1);
    await register(config, model, 'production');
    const { url } = await startService(config, cleanups);
    await produceEvents(config, { rate: 0, count: 30_000, format: 'json', features: model.features });
    const post = (body: object) =>
      fetch(`${url}/api/v1/replays`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: (await r.json()) as { message?: string; id?: string } }));
    const refused = await post({ output: { kind: 'topic', topic: 'elsewhere.backfill' } });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toContain('elsewhere.backfill');
    const output = { kind: 'topic', topic: `${config.predictionsTopic}.backfill`, deadLetterTopic: `${config.predictionsTopic}.backfill.dlq` };
    const first = await post({ output, tuning: { threads: 1 } });
    expect(first.status).toBe(202);
    const second = await post({ output, tuning: { threads: 1 } });
    expect(second.status).toBe(429);
    expect(second.json.message).toContain('KSCORE_REPLAY_MAX_JOBS=1');
  });
});
