/**
 * The production image's recipe, proven where no Docker engine runs: the Dockerfile's steps in a
 * clean folder (npm ci, scripts/build, then production dependencies only), and the compiled
 * service from there serves, scores, replays (worker threads) and answers its health check.
 */
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { eventually, listeningPort } from '../support/child.js';
import { cleanupAfterEach } from '../support/cleanup.js';
import { collect, deleteTopics, envFor, produceEvents, testConfig } from '../support/harness.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const cleanups = cleanupAfterEach();

/** The files the image is built from: what git tracks, as they are in the working tree. */
async function copyTree(to: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z'], { cwd: repo, maxBuffer: 64 << 20 });
  for (const f of stdout.split('\0').filter((x) => x !== '')) {
    const from = join(repo, f);
    if (!(await stat(from).then((s) => s.isFile(), () => false))) continue;
    await mkdir(dirname(join(to, f)), { recursive: true });
    await cp(from, join(to, f), { preserveTimestamps: true });
  }
}

async function sh(cwd: string, cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout, stderr } = await run(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return `${stdout}${stderr}`;
}

describe('the production image recipe', { timeout: 300_000 }, () => {
  it('builds dist/, installs production dependencies only, and the compiled service serves, scores, replays and is healthy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kscore-image-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await copyTree(dir);
    const dockerfile = await readFile(join(dir, 'Dockerfile'), 'utf8');
    // The steps below are the Dockerfile's.
    expect(dockerfile).toMatch(/RUN npm ci\n/);
    expect(dockerfile).toContain('RUN scripts/build');
    expect(dockerfile).toContain('npm ci --omit=dev');
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    await sh(dir, 'npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline']);
    await sh(dir, 'scripts/build', []);
    await rm(join(dir, 'node_modules'), { recursive: true, force: true });
    await sh(dir, 'npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline']);
    const installed = new Set(await readdir(join(dir, 'node_modules')));
    for (const dev of ['tsx', 'typescript', 'vitest', 'eslint', 'testcontainers']) expect(installed.has(dev), dev).toBe(false);
    for (const prod of ['kafkajs', 'onnxruntime-node', 'fastify', 'ioredis']) expect(installed.has(prod), prod).toBe(true);

    const config = testConfig({ modelName: `t-image-${Date.now()}` });
    cleanups.push(() => deleteTopics(config));
    // The runtime stage's environment (jemalloc preloaded among it), then this test's settings.
    const env = { ...clean(), ...runtimeEnv(dockerfile), ...envFor(config), KSCORE_HTTP_HOST: '127.0.0.1', KSCORE_HTTP_PORT: '0', KSCORE_LOG_LEVEL: 'info' };
    const cli = (args: string[]): Promise<string> => sh(dir, process.execPath, ['dist/cli/main.js', ...args], env);
    expect(await cli(['model', 'demo'])).toMatch(/registered|version/i);

    const service = spawn(process.execPath, ['dist/cli/main.js', 'serve'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    service.stdout.on('data', (d: Buffer) => (output += d.toString()));
    service.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => service.once('exit', r));
    cleanups.push(async () => {
      service.kill('SIGTERM');
      await exited;
    });
    const port = await listeningPort({ proc: service, output: () => output, exited });
    // The preloaded allocator is the one the service runs on.
    expect(await readFile(`/proc/${service.pid}/maps`, 'utf8')).toContain('libjemalloc.so.2');
    await eventually(async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined), 90_000, `the compiled service to be ready (${output})`);
    const N = 300;
    const features = Array.from({ length: 32 }, (_, i) => `f${i}`);
    await produceEvents(config, { rate: 0, count: N, format: 'json', features });
    expect(await collect(config, [config.predictionsTopic], (all) => all.length >= N)).toHaveLength(N);

    // The image's health check, as Docker runs it.
    const check = /^HEALTHCHECK .*CMD (\[.*\])$/m.exec(dockerfile.replace(/\\\n\s*/g, ''));
    expect(check).not.toBeNull();
    const [cmd, ...args] = JSON.parse(check![1]!) as string[];
    // In a container the port is set; here it is the one the OS picked.
    await expect(sh(dir, cmd === 'node' ? process.execPath : cmd!, args, { ...env, KSCORE_HTTP_PORT: String(port) })).resolves.toBeDefined();
    const stats = await fetch(`http://127.0.0.1:${port}/dashboard`);
    expect(stats.status).toBe(200);

    // A replay runs its worker threads from the compiled JavaScript.
    const out = join(dir, 'replayed.jsonl');
    await cli(['replay', '--output-file', out, '--threads', '2']);
    expect((await readFile(out, 'utf8')).trim().split('\n')).toHaveLength(N);

    service.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

/**
 * The ENV of the Dockerfile's last stage (the runtime image). Its LD_PRELOAD names the link the
 * image makes to jemalloc; here it is the library where this machine has it (scripts/kafka-native
 * installs Debian's libjemalloc2).
 */
function runtimeEnv(dockerfile: string): Record<string, string> {
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM ')).replace(/\\\n\s*/g, ' ');
  const env: Record<string, string> = {};
  for (const line of runtime.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, k, v] of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[k!] = v!;
  }
  expect(env['LD_PRELOAD']).toBe('/usr/local/lib/libjemalloc.so.2');
  expect(dockerfile).toMatch(/apt-get install [^\n]*libjemalloc2/);
  const lib = ['/usr/local/lib', ...readdirSync('/usr/lib').filter((d) => d.endsWith('-linux-gnu')).map((d) => `/usr/lib/${d}`)]
    .map((d) => `${d}/libjemalloc.so.2`)
    .find((f) => existsSync(f));
  expect(lib, 'jemalloc, which the image preloads, is installed here (apt-get install libjemalloc2; scripts/kafka-native does)').toBeDefined();
  return { ...env, LD_PRELOAD: lib! };
}

/** The environment without the KSCORE_ settings of the shell that runs the tests. */
function clean(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k, v]) => !k.startsWith('KSCORE_') && v !== undefined)) as Record<string, string>;
}
