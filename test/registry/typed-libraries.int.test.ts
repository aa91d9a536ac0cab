import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/index.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { RedisModelStore, type ModelVersionMeta } from '../../src/registry/index.js';
import { runCli } from '../support/child.js';
import { collect, envFor, header, redisFor, sendAvroEvents, sendEvents, testConfig, type Collected } from '../support/harness.js';
import { startService } from '../support/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const cleanups = cleanupAfterEach();

type Row = Record<string, number | string>;
interface Reference {
  events: Row[];
  probabilities: [number, number][];
}

/** Trains and exports with scripts/sklearn/export_typed.py in its Python environment (PyPI: scikit-learn, skl2onnx, onnxmltools, xgboost, lightgbm). */
async function exportModel(kind: string): Promise<{ file: string; ref: Reference }> {
  const dir = await mkdtemp(join(tmpdir(), 'kscore-typed-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const { stdout: venv } = await run(join(repo, 'scripts/python-env'), [join(repo, 'scripts/sklearn/requirements-boost.txt')], { maxBuffer: 16 << 20 });
  const file = join(dir, 'model.onnx');
  await run(join(venv.trim(), 'bin/python'), [join(repo, 'scripts/sklearn/export_typed.py'), '--model', kind, '--out', file, '--reference', join(dir, 'ref.json')]);
  return { file, ref: JSON.parse(await readFile(join(dir, 'ref.json'), 'utf8')) as Reference };
}

async function registerWithCli(config: Config, file: string): Promise<ModelVersionMeta | undefined> {
  const reg = runCli(['model', 'register', '--file', file, '--alias', 'production'], envFor(config));
  expect(await reg.exited, reg.output()).toBe(0);
  const redis = redisFor(config);
  try {
    return await new RedisModelStore(redis, config.redisKeyPrefix).getMeta(config.modelName, '1');
  } finally {
    await redis.quit();
  }
}

/** Every prediction equals the library's: score is P(class 1), both probabilities within 1e-5. */
function expectLibraryScores(got: readonly Collected[], ref: Reference): void {
  let maxDiff = 0;
  for (const { message } of got) {
    const i = Number(message.key!.toString().slice(1));
    const p = JSON.parse(message.value!.toString()) as { score: number; probabilities: number[] };
    const want = ref.probabilities[i]!;
    maxDiff = Math.max(maxDiff, Math.abs(p.score - want[1]), Math.abs(p.probabilities[0]! - want[0]), Math.abs(p.probabilities[1]! - want[1]));
  }
  expect(maxDiff).toBeLessThan(1e-5);
}

const keyed = (ref: Reference) => ref.events.map((value, i) => ({ key: `r${i}`, value }));

describe('typed and categorical models from the real libraries, scored like the library on every row', () => {
  it('scikit-learn ColumnTransformer (StandardScaler + OneHotEncoder on strings) via skl2onnx: JSON and Avro events', async () => {
    const { file, ref } = await exportModel('columns');
    const config = testConfig();
    const meta = await registerWithCli(config, file);
    // Read from the model: one input per column, each filled from the field of its name.
    expect(meta?.inputs?.map((i) => [i.name, i.type, i.fields])).toEqual([
      ['age', 'float32', ['age']],
      ['income', 'float32', ['income']],
      ['tenure', 'float32', ['tenure']],
      ['n_orders', 'int64', ['n_orders']],
      ['country', 'string', ['country']],
      ['device', 'string', ['device']],
    ]);
    await startService(config, cleanups);
    const bad = [
      { key: 'bad-country', value: { ...ref.events[0]!, country: 'zz' } },
      { key: 'bad-orders', value: { ...ref.events[0]!, n_orders: 'many' } },
    ];
    await sendEvents(config, [...keyed(ref), ...bad]);
    const got = await collect(config, [config.predictionsTopic, config.deadLetterTopic], (all) => all.length >= ref.events.length + bad.length);
    const scored = got.filter((g) => g.topic === config.predictionsTopic);
    expect(scored).toHaveLength(ref.events.length);
    expectLibraryScores(scored, ref);
    const dead = new Map(got.filter((g) => g.topic === config.deadLetterTopic).map((g) => [g.message.key!.toString(), header(g.message, HEADERS.dlqReason)]));
    expect(dead).toEqual(new Map([['bad-country', 'unknown-category'], ['bad-orders', 'non-numeric-feature']]));

    // The same model fed Avro records whose categories are Avro strings.
    const avro = testConfig({ inputFormat: 'avro', outputFormat: 'avro' });
    await registerWithCli(avro, file);
    await startService(avro, cleanups);
    const schema = {
      type: 'record',
      name: 'Customer',
      fields: [
        { name: 'age', type: 'float' },
        { name: 'income', type: 'float' },
        { name: 'tenure', type: 'float' },
        { name: 'n_orders', type: 'long' },
        { name: 'country', type: 'string' },
        { name: 'device', type: 'string' },
      ],
    };
    await sendAvroEvents(avro, schema, keyed(ref));
    const fromAvro = await collect(avro, [avro.predictionsTopic], (all) => all.length >= ref.events.length);
    expect(fromAvro).toHaveLength(ref.events.length);
    const registry = new SchemaRegistry({ host: avro.schemaRegistryUrl });
    const decoded = await Promise.all(
      fromAvro.map(async (g) => ({ ...g, message: { ...g.message, value: Buffer.from(JSON.stringify(await registry.decode(g.message.value!))) } })),
    );
    expectLibraryScores(decoded, ref);
  });

  for (const kind of ['xgboost', 'lightgbm']) {
    it(`${kind} classifier converted with onnxmltools: JSON events`, async () => {
      const { file, ref } = await exportModel(kind);
      const config = testConfig();
      const meta = await registerWithCli(config, file);
      expect(meta?.inputs?.map((i) => [i.name, i.type, i.fields])).toEqual([['features', 'float32', ['age', 'income', 'tenure', 'n_orders']]]);
      await startService(config, cleanups);
      await sendEvents(config, keyed(ref));
      const got = await collect(config, [config.predictionsTopic], (all) => all.length >= ref.events.length);
      expect(got).toHaveLength(ref.events.length);
      expectLibraryScores(got, ref);
    });
  }
});
