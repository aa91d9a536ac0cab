import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '../support/child.js';

/** The shipped Prometheus files. */
export const PROMETHEUS_DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
export const GRAFANA_DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/kscore-dashboard.json', import.meta.url));

/** Debian's prometheus and promtool (scripts/test-tools installs them). */
export const PROMETHEUS_BIN = process.env['PROMETHEUS_BIN'] ?? 'prometheus';
export const PROMTOOL_BIN = process.env['PROMTOOL_BIN'] ?? 'promtool';

export interface RunningPrometheus {
  url: string;
  /** Instant query through the HTTP API; throws unless Prometheus answers `success`. */
  query: (promql: string, time?: number) => Promise<PromSample[]>;
  api: <T>(path: string) => Promise<T>;
  log: () => string;
  stop: () => Promise<void>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * The shipped deploy/prometheus/prometheus.yml, made to scrape `target` every second with the
 * shipped alerts.yml. Every substitution must apply: if the file changes shape, this says so.
 */
export async function shippedConfigFor(target: string): Promise<string> {
  let text = await readFile(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8');
  const substitutions: [RegExp, string][] = [
    [/scrape_interval: 15s/, 'scrape_interval: 1s'],
    [/scrape_timeout: 10s/, 'scrape_timeout: 1s'],
    [/evaluation_interval: 15s/, 'evaluation_interval: 1s'],
    [/- alerts\.yml/, `- ${join(PROMETHEUS_DIR, 'alerts.yml')}`],
    [/'127\.0\.0\.1:18080'/, `'${target}'`],
  ];
  for (const [pattern, replacement] of substitutions) {
    if (!pattern.test(text)) throw new Error(`deploy/prometheus/prometheus.yml no longer has ${pattern}`);
    text = text.replace(pattern, replacement);
  }
  return text;
}

/** Prometheus logs the address it bound (`msg="Listening on" address=127.0.0.1:40123`) at info level. */
const LISTENING = /msg="Listening on" address=127\.0\.0\.1:(\d+)/;

/** A real Prometheus on a loopback port it binds itself (port 0), its data in a fresh temporary folder. */
export async function startPrometheus(config: string): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'kscore-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, config);
  let url = '';
  const proc = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--web.listen-address=127.0.0.1:0',
      '--log.level=info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  proc.on('error', (err) => (output += `spawn error: ${err.message}\n`));

  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  const query = async (promql: string, time?: number): Promise<PromSample[]> => {
    const params = new URLSearchParams({ query: promql });
    if (time !== undefined) params.set('time', String(time));
    const data = await api<{ resultType: string; result: PromSample[] }>(`/api/v1/query?${params}`);
    if (data.resultType !== 'vector') throw new Error(`expected a vector from ${promql}, got ${data.resultType}`);
    return data.result;
  };

  try {
    await eventually(
      async () => {
        if (proc.exitCode !== null) throw new Error(`prometheus exited: ${output}`);
        const port = LISTENING.exec(output)?.[1];
        if (port === undefined) return undefined;
        url = `http://127.0.0.1:${port}`;
        const res = await fetch(`${url}/-/ready`);
        return res.status === 200 ? true : undefined;
      },
      30_000,
      'prometheus ready',
    );
  } catch (err) {
    await stop();
    throw new Error(`${String(err)}\n${output}`);
  }
  return { url, query, api, log: () => output, stop };
}
