import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/index.js';
import { logistic } from '../../src/modelgen/models.js';
import { typedClassifier } from '../../src/modelgen/typed.js';
import { syntheticFeatures } from '../../src/producer/load-generator.js';
import { RedisModelStore, registerModel, type NewModelVersion } from '../../src/registry/index.js';
import { collect, redisFor, sendEvents, testConfig } from '../support/harness.js';
import { ADMIN_TOKEN, READ_TOKEN, TEST_TOKENS, startService } from '../support/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const cleanups = cleanupAfterEach();

interface ClientAnswer {
  live: boolean;
  ready: boolean;
  model_ready: boolean;
  metadata: { name: string; versions: string[]; inputs: { name: string; datatype: string; shape: number[] }[]; outputs: { name: string; datatype: string }[] };
  id: string;
  outputs: Record<string, number[][] | number[]>;
}

async function register(config: Config, input: NewModelVersion): Promise<void> {
  const redis = redisFor(config);
  try {
    await registerModel(new RedisModelStore(redis, config.redisKeyPrefix), config.modelName, input, { alias: config.modelAlias });
  } finally {
    await redis.quit();
  }
}

/** Calls the service with tritonclient[http] (PyPI) through scripts/oip/client.py. */
async function tritonClient(url: string, config: Config, rows: object[], fields: string[] = []): Promise<ClientAnswer> {
  const dir = await mkdtemp(join(tmpdir(), 'kscore-oip-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'rows.json'), JSON.stringify(rows));
  const { stdout: venv } = await run(join(repo, 'scripts/python-env'), [join(repo, 'scripts/oip/requirements.txt')], { maxBuffer: 16 << 20 });
  const args = [join(repo, 'scripts/oip/client.py'), '--url', new URL(url).host, '--token', READ_TOKEN, '--model', config.modelName, '--rows', join(dir, 'rows.json')];
  for (const f of fields) args.push('--fields', f);
  const { stdout } = await run(join(venv.trim(), 'bin/python'), args, { maxBuffer: 16 << 20 });
  return JSON.parse(stdout) as ClientAnswer;
}

/** The stream's predictions for the same rows, by row index. */
async function streamed(config: Config, rows: object[]): Promise<Map<number, { score: number | null; probabilities: number[] | null }>> {
  await sendEvents(config, rows.map((value, i) => ({ key: `r${i}`, value })));
  const got = await collect(config, [config.predictionsTopic], (all) => all.length >= rows.length);
  expect(got).toHaveLength(rows.length);
  return new Map(got.map((g) => [Number(g.message.key!.toString().slice(1)), JSON.parse(g.message.value!.toString()) as { score: number; probabilities: number[] }]));
}

describe('Open Inference Protocol (v2) REST, called with tritonclient[http] against the real service', () => {
  it('a float model: metadata and infer equal to the stream for the same rows', async () => {
    const config = testConfig({ apiTokens: TEST_TOKENS });
    const model = logistic(8, 3);
    await register(config, { bytes: Buffer.from(model.bytes), features: model.features });
    const { url } = await startService(config, cleanups);
    const rows = Array.from({ length: 50 }, (_, i) => syntheticFeatures(i, model.features, 4));

    const answer = await tritonClient(url, config, rows, [`features=${model.features.join(',')}`]);
    expect(answer).toMatchObject({ live: true, ready: true, model_ready: true, id: 'parity' });
    expect(answer.metadata.inputs).toEqual([{ name: 'features', datatype: 'FP32', shape: [-1, 8] }]);
    expect(answer.metadata.versions).toEqual(['1']);
    const stream = await streamed(config, rows);
    const scores = answer.outputs['score'] as number[][];
    expect(scores).toHaveLength(rows.length);
    scores.forEach(([s], i) => expect(s).toBe(stream.get(i)!.score));
  });

  it('a typed model of six inputs (string among them): infer equal to the stream; bad tensors answered 400; a token needed', async () => {
    const config = testConfig({ apiTokens: TEST_TOKENS });
    const model = typedClassifier();
    await register(config, { bytes: Buffer.from(model.bytes), inputs: model.inputs });
    const { url } = await startService(config, cleanups);
    const rows = model.events(40, 6);

    const answer = await tritonClient(url, config, rows, ['num=a,b']);
    expect(answer.metadata.inputs.map((i) => [i.name, i.datatype, i.shape])).toEqual([
      ['num', 'FP32', [-1, 2]],
      ['ratio', 'FP64', [-1, 1]],
      ['count', 'INT64', [-1, 1]],
      ['small', 'INT32', [-1]],
      ['flag', 'BOOL', [-1, 1]],
      ['country', 'BYTES', [-1, 1]],
    ]);
    const stream = await streamed(config, rows);
    const probabilities = answer.outputs['probabilities'] as number[][];
    probabilities.forEach((p, i) => expect(p).toEqual(stream.get(i)!.probabilities));

    const infer = (body: object, token = READ_TOKEN) =>
      fetch(`${url}/v2/models/${config.modelName}/versions/1/infer`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // As curl -d sends it (a form content type): the body is JSON all the same.
    const e = rows[0]!;
    const raw = await fetch(`${url}/v2/models/${config.modelName}/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${READ_TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify({
        inputs: [
          { name: 'num', datatype: 'FP32', shape: [1, 2], data: [[e.a, e.b]] },
          { name: 'ratio', datatype: 'FP64', shape: [1, 1], data: [e.ratio] },
          { name: 'count', datatype: 'INT64', shape: [1, 1], data: [e.count] },
          { name: 'small', datatype: 'INT32', shape: [1], data: [e.small] },
          { name: 'flag', datatype: 'BOOL', shape: [1, 1], data: [e.flag] },
          { name: 'country', datatype: 'BYTES', shape: [1, 1], data: [e.country] },
        ],
        outputs: [{ name: 'probabilities' }],
      }),
    });
    expect(raw.status).toBe(200);
    expect(await raw.json()).toEqual({
      model_name: config.modelName,
      model_version: '1',
      outputs: [{ name: 'probabilities', shape: [1, 2], datatype: 'FP32', data: stream.get(0)!.probabilities }],
    });
    const wrongType = await infer({ inputs: [{ name: 'count', shape: [1, 1], datatype: 'FP32', data: [1] }] });
    expect(wrongType.status).toBe(400);
    expect(await wrongType.json()).toEqual({ error: 'input "count" is INT64, not FP32' });
    const unknown = await infer({ inputs: [{ name: 'nope', shape: [1], datatype: 'FP32', data: [1] }] });
    expect(await unknown.json()).toEqual({ error: '"nope" is not an input of the model (num, ratio, count, small, flag, country)' });
    const noToken = await fetch(`${url}/v2/models/${config.modelName}`);
    expect(noToken.status).toBe(401);
    expect((await fetch(`${url}/v2/models/${config.modelName}/versions/9`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(404);
  });
});
