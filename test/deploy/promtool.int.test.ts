import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROMETHEUS_DIR, PROMTOOL_BIN } from './prometheus.js';

// The shipped Prometheus files pass Prometheus' own checker, and the rule unit tests
// (alerts.test.yml) pass; broken copies of them fail, so a pass means something.

interface Run {
  code: number;
  output: string;
}

function promtool(args: string[], cwd = PROMETHEUS_DIR): Promise<Run> {
  return new Promise((resolve) => {
    execFile(PROMTOOL_BIN, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

const temps: string[] = [];
afterEach(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A copy of the shipped files in a temporary folder, with `alerts.yml` changed by `edit`. */
async function brokenCopy(edit: (alerts: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kscore-promtool-'));
  temps.push(dir);
  for (const f of ['prometheus.yml', 'alerts.test.yml']) await copyFile(join(PROMETHEUS_DIR, f), join(dir, f));
  const alerts = await readFile(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8');
  const changed = edit(alerts);
  expect(changed).not.toBe(alerts);
  await writeFile(join(dir, 'alerts.yml'), changed);
  return dir;
}

describe('promtool on deploy/prometheus', () => {
  it('accepts the scrape configuration and the rule file it names', async () => {
    const r = await promtool(['check', 'config', 'prometheus.yml']);
    expect(r.output).toContain('SUCCESS: 1 rule files found');
    expect(r.output).toContain('SUCCESS: prometheus.yml is valid prometheus config file syntax');
    expect(r.code, r.output).toBe(0);
  });

  it('accepts the alert rules: lag, latency, dead letters, drift, no live model, down, failed scheduled runs', async () => {
    const r = await promtool(['check', 'rules', 'alerts.yml']);
    expect(r.output).toContain('SUCCESS: 8 rules found');
    expect(r.code, r.output).toBe(0);
    const text = await readFile(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8');
    const names = [...text.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(names).toEqual([
      'KscoreDown',
      'KscoreConsumerLagGrowing',
      'KscoreEndToEndLatencyHigh',
      'KscoreDeadLetterRateHigh',
      'KscoreFeatureDrift',
      'KscoreNoLiveModel',
      'KscoreReplicaWithoutLiveModel',
      'KscoreScheduledRunFailed',
    ]);
    // Each has a for:, a severity and both annotations.
    const blocks = text.split(/\n(?= +- alert: )/).slice(1);
    expect(blocks).toHaveLength(8);
    for (const block of blocks) {
      expect(block).toMatch(/\n\s+for: \d+m\n/);
      expect(block).toMatch(/\n\s+severity: (warning|critical)\n/);
      expect(block).toMatch(/\n\s+summary: ".+"/);
      expect(block).toMatch(/\n\s+description: ".+"/);
    }
  });

  it('passes the rule unit tests (alerts.test.yml), firing each alert when it should and not before', async () => {
    const r = await promtool(['test', 'rules', 'alerts.test.yml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.code, r.output).toBe(0);
  });

  it('fails a rule file with a broken expression, and a rule test whose threshold moved', async () => {
    const syntax = await brokenCopy((a) => a.replace('> 0.2', '> > 0.2'));
    const bad = await promtool(['check', 'rules', 'alerts.yml'], syntax);
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/parse error|unexpected/);

    // The drift threshold raised over the test's PSI of 0.35: the test that expects it to fire fails.
    const threshold = await brokenCopy((a) => a.replace('(kscore_feature_drift_psi) > 0.2', '(kscore_feature_drift_psi) > 0.5'));
    const failed = await promtool(['test', 'rules', 'alerts.test.yml'], threshold);
    expect(failed.code).not.toBe(0);
    expect(failed.output).toContain('FAILED');
    expect(failed.output).toContain('KscoreFeatureDrift');
  });
});
