/**
 * Where the online path spends its time: `kscore serve` (logistic, 32 features, JSON) drains a
 * preloaded topic under Node's CPU profiler, once per client; the main thread's samples are summed
 * by function and by package (self time, share of the busy time, idle left out).
 *
 *   scripts/stack up && scripts/kafka-native && npm run bench:profile
 *
 * Writes docs/bench-profile.{json,md}. BENCH_EVENTS (200000), BENCH_CLIENTS (kafkajs,librdkafka).
 * The profiler slows the service down: the throughput it shows is not the benchmark's.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaClientName } from '../src/kafka/index.js';
import { logistic } from '../src/modelgen/models.js';
import { provenance, repo, writeReport } from './lib.js';
import { preload, register, runBench, serviceThroughput } from './runs.js';

const N = Number(process.env['BENCH_EVENTS'] ?? 200_000);
const CLIENTS = (process.env['BENCH_CLIENTS'] ?? 'kafkajs,librdkafka').split(',') as KafkaClientName[];
const TOP = 15;

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

interface Share {
  name: string;
  percent: number;
}

interface Profiled {
  client: KafkaClientName;
  eventsPerSecond: number;
  busySeconds: number;
  functions: Share[];
  packages: Share[];
}

/** Where a frame's code lives: a package, a folder of src/, or Node's own (runtime) code. */
function placeOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)';
  const inModules = url.lastIndexOf('node_modules/');
  if (inModules >= 0) {
    const parts = url.slice(inModules + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const inRepo = url.indexOf(`${repo}src/`);
  if (inRepo >= 0) return url.slice(inRepo + repo.length).split('/').slice(0, 2).join('/');
  return url.startsWith('node:') ? 'node (runtime)' : url;
}

function top(times: Map<string, number>, busy: number): Share[] {
  return [...times].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([name, t]) => ({ name, percent: (100 * t) / busy }));
}

/** Self time by function and by package, as shares of the samples that were not idle. */
function summarise(profile: CpuProfile): Pick<Profiled, 'busySeconds' | 'functions' | 'packages'> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = byId.get(profile.samples[i]!)!;
    if (frame.functionName === '(idle)') continue;
    const dt = profile.timeDeltas[i] ?? 0;
    busy += dt;
    const place = placeOf(frame.url, frame.functionName);
    const file = frame.url.split('/').pop() ?? '';
    const fn = `${frame.functionName || '(anonymous)'}${file === '' ? '' : ` (${place === file ? file : `${place}, ${file}`})`}`;
    functions.set(fn, (functions.get(fn) ?? 0) + dt);
    packages.set(place, (packages.get(place) ?? 0) + dt);
  }
  return { busySeconds: busy / 1e6, functions: top(functions, busy), packages: top(packages, busy) };
}

/** The main thread's profile: the largest file (the loader's worker thread writes a small one too). */
function mainProfile(dir: string): CpuProfile {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no CPU profile was written to ${dir}`);
  const largest = files.map((f) => join(dir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
  return JSON.parse(readFileSync(largest, 'utf8')) as CpuProfile;
}

function table(shares: Share[]): string {
  return shares.map((s) => `| ${s.name.replace(/\|/g, '\\|')} | ${s.percent.toFixed(1)} |`).join('\n');
}

async function main(): Promise<void> {
  const model = logistic(32, 1);
  const modelName = await register(model, 'logistic');
  const input = await preload('profile', 'json', model.features, N);
  const results: Profiled[] = [];
  for (const client of CLIENTS) {
    const dir = mkdtempSync(join(tmpdir(), 'kscore-profile-'));
    try {
      const r = await serviceThroughput(input, modelName, `profile-${client}`, client, 'json', N, {}, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
      results.push({ client, eventsPerSecond: r.eventsPerSecond, ...summarise(mainProfile(dir)) });
      process.stderr.write(`bench:profile: ${client} profiled\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const p = provenance();
  const md = `# Where the online path spends its time

Command: \`scripts/stack up && scripts/kafka-native && npm run bench:profile\` (${p.date}, commit ${p.commit}, ${p.cores} × ${p.cpus}, ${p.memoryGiB} GiB, Node ${p.node}).

\`kscore serve\` with the logistic model (32 features) drains ${N.toLocaleString('en')} preloaded JSON events under Node's CPU
profiler (\`--cpu-prof\`). The shares are of the main thread's busy time (idle samples left out),
by the function or package the time was spent in itself. librdkafka's own threads (fetching,
sending, delivery reports) do not show here; they share the machine's cores with it.
"(program)" is time in V8 and native code not attributed to a JavaScript function. The samples
include the service's start-up (module loading: \`compileSourceTextModule\`, \`wrapSafe\`).

${results
  .map(
    (r) => `## ${r.client}

${Math.round(r.eventsPerSecond).toLocaleString('en')} events/s under the profiler; ${r.busySeconds.toFixed(1)} s busy on the main thread.

| package or part | % of busy |
| --- | ---: |
${table(r.packages)}

| function | % of busy |
| --- | ---: |
${table(r.functions)}
`,
  )
  .join('\n')}`;
  writeReport('bench-profile', { ...p, events: N, results }, md);
}

runBench('bench:profile', main);
