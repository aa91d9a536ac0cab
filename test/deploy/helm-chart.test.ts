import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ALERTS_FILE, CHART_ALERTS_FILE, CHART_DIR, REPO, dockerfileCmd, undocumentedKeys } from './helm.js';

// What the chart copies from the rest of the repository must not drift from it. (Rendering and
// validating the chart with real Helm is test/deploy/helm.int.test.ts.)

describe('the Helm chart agrees with the repository', () => {
  it("carries deploy/prometheus/alerts.yml byte for byte (Helm reads only files inside the chart: copy it with `cp deploy/prometheus/alerts.yml deploy/helm/kscore/files/`)", async () => {
    const [original, copy] = await Promise.all([readFile(ALERTS_FILE, 'utf8'), readFile(CHART_ALERTS_FILE, 'utf8')]);
    expect(copy).toBe(original);
  });

  it("has package.json's version as appVersion", async () => {
    const chart = parse(await readFile(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string; apiVersion: string };
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(chart.apiVersion).toBe('v2');
    expect(chart.appVersion).toBe(pkg.version);
  });

  it("runs the replay Job with the Dockerfile's command line (its CMD is the CLI followed by `serve`)", async () => {
    const values = parse(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')) as { image: { cli: string[] } };
    expect([...values.image.cli, 'serve']).toEqual(await dockerfileCmd());
  });

  it('documents every key of values.yaml', async () => {
    const text = await readFile(join(CHART_DIR, 'values.yaml'), 'utf8');
    expect(undocumentedKeys(text)).toEqual([]);
    // The check finds a key without a word about it, at any depth.
    expect(undocumentedKeys(`${text}\nundocumented: 1\n`)).toEqual(['undocumented']);
    expect(undocumentedKeys(text.replace(/( *# -- .*\n)+( *)lagThreshold:/, '$2lagThreshold:'))).toEqual(['keda.lagThreshold']);
  });
});
