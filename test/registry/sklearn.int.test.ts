import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { RedisModelStore } from '../../src/registry/index.js';
import { runCli } from '../support/child.js';
import { collect, envFor, redisFor, sendEvents, testConfig } from '../support/harness.js';
import { startService } from '../support/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const cleanups = cleanupAfterEach();

interface Reference {
  features: string[];
  rows: number[][];
  probabilities: number[][];
  label: number[];
}

/** Trains and exports with scripts/sklearn/export.py, in the project's Python environment. */
async function exportModel(estimator: string): Promise<{ file: string; ref: Reference }> {
  const dir = await mkdtemp(join(tmpdir(), 'kscore-sklearn-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const { stdout: venv } = await run(join(repo, 'scripts/python-env'), { maxBuffer: 16 << 20 });
  const file = join(dir, 'model.onnx');
  await run(join(venv.trim(), 'bin/python'), [
    join(repo, 'scripts/sklearn/export.py'),
    '--dataset', 'breast_cancer', '--estimator', estimator, '--out', file, '--reference', join(dir, 'ref.json'),
  ]);
  return { file, ref: JSON.parse(await readFile(join(dir, 'ref.json'), 'utf8')) as Reference };
}

describe('models trained in scikit-learn', () => {
  for (const estimator of ['logistic', 'gbt']) {
    it(`${estimator}: exported with skl2onnx, registered with the CLI, scores like scikit-learn within 1e-5 on every row`, async () => {
      const { file, ref } = await exportModel(estimator);
      const config = testConfig();
      const reg = runCli(['model', 'register', '--file', file, '--alias', 'production', '--description', `sklearn ${estimator}`], envFor(config));
      expect(await reg.exited, reg.output()).toBe(0);

      // Metadata from the sidecar: features, outputs, training metrics, baselines.
      const redis = redisFor(config);
      const meta = await new RedisModelStore(redis, config.redisKeyPrefix).getMeta(config.modelName, '1');
      await redis.quit();
      expect(meta?.features).toEqual(ref.features);
      expect(meta?.outputs).toEqual({ label: 'label', probabilities: 'probabilities' });
      expect(meta?.metrics?.['auc']).toBeGreaterThan(0.9);
      expect(meta?.baseline?.[ref.features[0]!]?.shares?.length).toBe((meta?.baseline?.[ref.features[0]!]?.edges?.length ?? 0) + 1);

      await startService(config, cleanups);
      await sendEvents(
        config,
        ref.rows.map((row, i) => ({ key: `r${i}`, value: Object.fromEntries(ref.features.map((f, j) => [f, row[j]])) })),
      );

      const got = await collect(config, [config.predictionsTopic], (all) => all.length >= ref.rows.length);
      expect(got).toHaveLength(ref.rows.length);
      let maxDiff = 0;
      for (const { message } of got) {
        const i = Number(message.key!.toString().slice(1));
        const p = JSON.parse(message.value!.toString()) as { label: string; probabilities: number[] };
        expect(p.label).toBe(String(ref.label[i]));
        for (let c = 0; c < 2; c++) maxDiff = Math.max(maxDiff, Math.abs(p.probabilities[c]! - ref.probabilities[i]![c]!));
      }
      expect(maxDiff).toBeLessThan(1e-5);
    });
  }
});
