/**
 * Where the online path spends its time: `kscore serve` (logistic, 32 features, JSON) and the
 * pass-through copy (bench/passthrough.ts) each drain a preloaded topic under Node's CPU profiler,
 * once per client; the main thread's samples are summed by function and by package (self time per
 * event, from the first record produced on, idle left out), the two side by side.
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
import { passThrough, preload, register, runBench, serviceThroughput } from './runs.js';

const N = Number(process.env['BENCH_EVENTS'] ?? 200_000);
const CLIENTS = (process.env['BENCH_CLIENTS'] ?? 'kafkajs,librdkafka').split(',') as KafkaClientName[];
const TOP = 15;

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Microseconds of the main thread per event, by name. */
type PerEvent = Map<string, number>;

interface Side {
  eventsPerSecond: number;
  /** Main-thread busy time per event, start-up left out. */
  busyMicros: number;
  functions: PerEvent;
  packages: PerEvent;
}

interface Profiled {
  client: KafkaClientName;
  service: Side;
  pass: Side;
}

/** Where a frame's code lives: a package, a folder of src/ or bench/, or Node's own (runtime) code. */
function placeOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)';
  const inModules = url.lastIndexOf('node_modules/');
  if (inModules >= 0) {
    const parts = url.slice(inModules + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  for (const dir of ['src/', 'bench/']) {
    const at = url.indexOf(`${repo}${dir}`);
    if (at >= 0) return url.slice(at + repo.length).split('/').slice(0, dir === 'src/' ? 2 : 1).join('/');
  }
  return url.startsWith('node:') ? 'node (runtime)' : url;
}

/** The first sample in the adapter's producer (src/kafka/<client>/producer.ts): the drain has begun. */
function drainStart(profile: CpuProfile, byId: Map<number, CpuProfile['nodes'][number]['callFrame']>): number {
  const i = profile.samples.findIndex((id) => /src\/kafka\/[^/]+\/producer\.ts$/.test(byId.get(id)!.url));
  if (i < 0) throw new Error('the profile has no sample in the Kafka adapter\'s producer: nothing was produced');
  return i;
}

/** Self time per event by function and by package, from the drain's first produce on; idle left out. */
function summarise(profile: CpuProfile, events: number, eventsPerSecond: number): Side {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const functions: PerEvent = new Map();
  const packages: PerEvent = new Map();
  let busy = 0;
  for (let i = drainStart(profile, byId); i < profile.samples.length; i++) {
    const frame = byId.get(profile.samples[i]!)!;
    if (frame.functionName === '(idle)') continue;
    const dt = (profile.timeDeltas[i] ?? 0) / events;
    busy += dt;
    const place = placeOf(frame.url, frame.functionName);
    const file = frame.url.split('/').pop() ?? '';
    const fn = `${frame.functionName || '(anonymous)'}${file === '' ? '' : ` (${place === file ? file : `${place}, ${file}`})`}`;
    functions.set(fn, (functions.get(fn) ?? 0) + dt);
    packages.set(place, (packages.get(place) ?? 0) + dt);
  }
  return { eventsPerSecond, busyMicros: busy, functions, packages };
}

/** The main thread's profile: the largest file (the loader's worker thread writes a small one too). */
function mainProfile(dir: string): CpuProfile {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no CPU profile was written to ${dir}`);
  const largest = files.map((f) => join(dir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
  return JSON.parse(readFileSync(largest, 'utf8')) as CpuProfile;
}

/** Runs `fn` with Node's CPU profiler arguments and summarises the main thread's profile. */
async function profiled(fn: (nodeArgs: string[]) => Promise<{ eventsPerSecond: number }>): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), 'kscore-profile-'));
  try {
    const r = await fn(['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    return summarise(mainProfile(dir), N, r.eventsPerSecond);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const us = (x: number | undefined): string => (x === undefined || x < 0.05 ? '' : x.toFixed(1));

/** The names that cost the service most per event, beside what the pass-through spends on each. */
function table(service: PerEvent, pass: PerEvent): string {
  const rows = [...service].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  return rows.map(([name, t]) => `| ${name.replace(/\|/g, '\\|')} | ${us(t)} | ${us(pass.get(name))} |`).join('\n');
}

/** The names the pass-through spends on most that the service does not (its copy, its own code). */
function passOnly(service: PerEvent, pass: PerEvent): string {
  const rows = [...pass].filter(([name, t]) => t >= 0.5 && (service.get(name) ?? 0) < t / 2).sort((a, b) => b[1] - a[1]).slice(0, 5);
  return rows.length === 0 ? 'none above 0.5 µs.' : rows.map(([name, t]) => `${name} ${us(t)} µs`).join('; ') + '.';
}

async function main(): Promise<void> {
  const model = logistic(32, 1);
  const modelName = await register(model, 'logistic');
  const input = await preload('profile', 'json', model.features, N);
  const results: Profiled[] = [];
  for (const client of CLIENTS) {
    const service = await profiled((args) => serviceThroughput(input, modelName, `profile-${client}`, client, 'json', N, {}, args));
    const pass = await profiled((args) => passThrough(client, input, `profile-pass-${client}`, N, args));
    results.push({ client, service, pass });
    process.stderr.write(`bench:profile: ${client} profiled\n`);
  }
  const p = provenance();
  const md = `# Where the online path spends its time

Command: \`scripts/stack up && scripts/kafka-native && npm run bench:profile\` (${p.date}, commit ${p.commit}, ${p.cores} × ${p.cpus}, ${p.memoryGiB} GiB, Node ${p.node}).

\`kscore serve\` with the logistic model (32 features) drains ${N.toLocaleString('en')} preloaded JSON events under Node's CPU
profiler (\`--cpu-prof\`), and so does the pass-through copy (bench/passthrough.ts: the same consumer
and producer, the same five headers, no decoding, scoring or encoding), once per client. The
figures are the main thread's own (self) time per event, in µs, by function and by package, from
the first record produced to the end (start-up and idle samples left out). librdkafka's own
threads (fetching, sending, delivery reports) do not show here; they share the machine's two
cores with the main thread and the broker. "(program)" is time in V8 and native code not
attributed to a JavaScript function. The profiler slows both down: the events/s here are not the
benchmark's. Both run with the image's environment (\`UV_THREADPOOL_SIZE=16\`; allocator: ${p.allocator}).

${results.map(section).join('\n')}`;
  writeReport('bench-profile', { ...p, events: N, results: results.map(asJson) }, md);
}

function section(r: Profiled): string {
  const { service: s, pass: t } = r;
  return `## ${r.client}

| | events/s under the profiler | main thread, µs per event |
| --- | ---: | ---: |
| service | ${Math.round(s.eventsPerSecond).toLocaleString('en')} | ${s.busyMicros.toFixed(1)} |
| pass-through | ${Math.round(t.eventsPerSecond).toLocaleString('en')} | ${t.busyMicros.toFixed(1)} |

| package or part | service µs | pass-through µs |
| --- | ---: | ---: |
${table(s.packages, t.packages)}

| function | service µs | pass-through µs |
| --- | ---: | ---: |
${table(s.functions, t.functions)}

Where the pass-through spends more than the service: ${passOnly(s.functions, t.functions)}
`;
}

function asJson(r: Profiled): object {
  const side = (x: Side): object => ({ ...x, functions: Object.fromEntries(x.functions), packages: Object.fromEntries(x.packages) });
  return { client: r.client, service: side(r.service), passThrough: side(r.pass) };
}

runBench('bench:profile', main);
