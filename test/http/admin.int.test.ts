import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { eventually } from '../support/child.js';
import { collect, header, produceEvents, testConfig } from '../support/harness.js';
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS, startService } from '../support/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

function api(base: string, token?: string) {
  return async (method: string, path: string, body?: Buffer | object, query = ''): Promise<{ status: number; json: any }> => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    let payload: Buffer | string | undefined;
    if (Buffer.isBuffer(body)) {
      headers['content-type'] = 'application/octet-stream';
      payload = body;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${base}${path}${query}`, { method, headers, body: payload });
    const text = await res.text();
    return { status: res.status, json: text.length > 0 ? JSON.parse(text) : undefined };
  };
}

describe('admin API against the real service, Redis and Kafka', () => {
  it('uploads, refuses bad uploads without changing anything, promotes, rolls back, audits, and enforces tokens', async () => {
    const config = testConfig({ apiTokens: TEST_TOKENS, modelRefreshMs: 60_000, maxUploadBytes: 200_000 });
    const { url, service } = await startService(config, cleanups);
    const adminApi = api(url, ADMIN_TOKEN);
    const readApi = api(url, READ_TOKEN);
    const anonymous = api(url);
    const name = config.modelName;
    const m1 = logistic(6, 1);
    const m2 = logistic(6, 2);
    const features = `?features=${m1.features.join(',')}`;

    // Auth: nothing changes without an admin token.
    expect((await anonymous('POST', `/api/v1/models/${name}/versions`, Buffer.from(m1.bytes), features)).status).toBe(401);
    expect((await api(url, 'not-a-token-at-all-0000')('POST', `/api/v1/models/${name}/versions`, Buffer.from(m1.bytes), features)).status).toBe(401);
    expect((await readApi('POST', `/api/v1/models/${name}/versions`, Buffer.from(m1.bytes), features)).status).toBe(403);
    expect((await anonymous('GET', '/api/v1/models')).status).toBe(401);
    expect((await readApi('GET', `/api/v1/models/${name}`)).status).toBe(404);

    // Version 1, promoted at upload; the service starts serving it at once (pub/sub).
    const v1 = await adminApi('POST', `/api/v1/models/${name}/versions`, Buffer.from(m1.bytes), `${features}&alias=production&description=first`);
    expect(v1.status).toBe(201);
    expect(v1.json).toMatchObject({ version: '1', createdBy: 'alice', description: 'first', features: m1.features });
    await eventually(() => (service.models.current()?.version === '1' ? true : undefined), 5000, 'version 1 serving');

    // Refused uploads: garbage bytes, wrong feature count, too large. Nothing is stored.
    const garbage = await adminApi('POST', `/api/v1/models/${name}/versions`, Buffer.from('definitely not onnx'), features);
    expect(garbage.status).toBe(422);
    expect(garbage.json.message).toMatch(/onnxruntime cannot load the model/);
    const mismatch = await adminApi('POST', `/api/v1/models/${name}/versions`, Buffer.from(m1.bytes), '?features=a,b,c');
    expect(mismatch.status).toBe(422);
    expect(mismatch.json.message).toMatch(/takes 6 features but 3 are declared/);
    const tooLarge = await adminApi('POST', `/api/v1/models/${name}/versions`, Buffer.alloc(300_000, 1), features);
    expect(tooLarge.status).toBe(413);
    expect((await readApi('GET', `/api/v1/models/${name}`)).json.versions).toHaveLength(1);

    // Version 2 via JSON, then promote, then roll back.
    const v2 = await adminApi('POST', `/api/v1/models/${name}/versions`, {
      onnx: Buffer.from(m2.bytes).toString('base64'),
      features: m2.features,
      description: 'second',
      metrics: { auc: 0.91 },
    });
    expect(v2.status).toBe(201);
    expect(v2.json).toMatchObject({ version: '2', metrics: { auc: 0.91 } });
    expect((await readApi('PUT', `/api/v1/models/${name}/aliases/production`, { version: '2' })).status).toBe(403);
    expect((await adminApi('PUT', `/api/v1/models/${name}/aliases/production`, { version: '9' })).status).toBe(404);
    expect((await adminApi('PUT', `/api/v1/models/${name}/aliases/production`, { version: '2' })).status).toBe(200);
    await eventually(() => (service.models.current()?.version === '2' ? true : undefined), 5000, 'version 2 serving');
    expect((await readApi('GET', `/api/v1/models/${name}`)).json.aliases).toEqual({ production: '2' });

    const rollback = await adminApi('POST', `/api/v1/models/${name}/aliases/production/rollback`);
    expect(rollback).toEqual({ status: 200, json: { model: name, alias: 'production', version: '1' } });
    await eventually(() => (service.models.current()?.version === '1' ? true : undefined), 5000, 'version 1 serving again');
    expect((await adminApi('POST', `/api/v1/models/${name}/aliases/production/rollback`)).status).toBe(409);

    // Serving was never interrupted by any of it: events are scored by version 1.
    await produceEvents(config, { rate: 0, count: 100, format: 'json', features: m1.features });
    const got = await collect(config, [config.predictionsTopic], (all) => all.length >= 100);
    expect(got).toHaveLength(100);
    expect(got.every((g) => header(g.message, HEADERS.version) === '1')).toBe(true);

    // The audit log tells the story, newest first, naming who did what.
    const audit = (await readApi('GET', '/api/v1/audit', undefined, `?model=${name}`)).json as { action: string; actor: string; version?: string }[];
    expect(audit.map((e) => `${e.action}:${e.actor}:${e.version ?? ''}`)).toEqual([
      'rollback:alice:1',
      'set-alias:alice:2',
      'register:alice:2',
      'refused:alice:',
      'refused:alice:',
      'set-alias:alice:1',
      'register:alice:1',
    ]);

    // OpenAPI document.
    const docs = await fetch(`${url}/docs/json`).then((r) => r.json() as Promise<{ openapi: string; paths: Record<string, unknown> }>);
    expect(docs.openapi).toMatch(/^3\./);
    expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/api/v1/models/{name}/versions', '/api/v1/models/{name}/aliases/{alias}/rollback', '/api/v1/audit']));
  });
});
