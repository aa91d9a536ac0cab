import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/pipeline/types.js';
import { eventually } from '../support/child.js';
import { collect, header, produceEvents, testConfig } from '../support/harness.js';
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS, register, startService } from '../support/service.js';
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

    const call = async (method: string, path: string, token?: string, body?: object) => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, json: (await res.json().catch(() => undefined)) as any };
    };
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
    expect(metrics).toMatch(new RegExp(`kscore_replay_progress_ratio\\{job="${id}"\\} 1`));
    expect((await call('GET', '/api/v1/replays/nope', READ_TOKEN)).status).toBe(404);
  });
});
