/**
 * The scoring pipeline in one process, without Kafka: what the service spends per event between
 * the fetched bytes and the outcome handed to the sink.
 *
 *   npm run bench:pipeline
 *
 * 1. pipeline: N JSON events, pre-encoded, go through `ScoringPipeline.process` in partition
 *    batches of 1,000 (decode, vectorise, micro-batch, score, prediction records) into a sink that
 *    only counts; events/s.
 * 2. row writer: the vectorising step alone over decoded events, ns a row.
 * Runs alternate; each figure is the median of BENCH_ROUNDS (7). With BENCH_BASELINE=FILE (an
 * earlier docs/bench-pipeline.json) the report sets each figure beside the earlier one. With
 * BENCH_COMPARE_DIR=DIR (a checkout of an earlier commit, its label in BENCH_COMPARE_LABEL) the
 * float cases also run on that checkout's pipeline in the same process, rounds alternating, so a
 * noisy machine weighs on both alike: the fairest before/after.
 * Writes docs/bench-pipeline.{json,md} with the machine, the date and the commit.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { jsonDecoder } from '../src/codec/index.js';
import { logistic, randomRows, treeEnsemble, type BuiltModel } from '../src/modelgen/models.js';
import { typedClassifier } from '../src/modelgen/typed.js';
import { ScoringPipeline } from '../src/pipeline/pipeline.js';
import type { PartitionBatch, Sink } from '../src/pipeline/types.js';
import { fixedModel } from '../src/scoring/model-manager.js';
import { OnnxScorer } from '../src/scoring/onnx-scorer.js';
import { compileRowWriter } from '../src/scoring/vectorize.js';
import { provenance, writeReport } from './lib.js';

const N = Number(process.env['BENCH_EVENTS'] ?? 200_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const BATCH = 1000;

/** One model the bench runs: how to build it and the events it reads. */
interface Case {
  id: string;
  label: string;
  build: () => Promise<{ pipeline: Pick<ScoringPipeline, 'process'>; release: () => Promise<void> }>;
  events: () => object[];
}

interface Figure {
  id: string;
  label: string;
  unit: 'events/s' | 'ns/row';
  rounds: number[];
  median: number;
}

let sinkCount = 0;
const countingSink: Sink = {
  send: (batch) => {
    sinkCount += batch.outcomes.length;
    return Promise.resolve();
  },
};

function floatEvents(features: readonly string[]): object[] {
  const rows = randomRows(N, features.length, 11);
  return Array.from({ length: N }, (_, i) => Object.fromEntries(features.map((f, j) => [f, rows[i * features.length + j]!])));
}

/** The parts of the code under test that a float case runs: this checkout's, or an earlier one's. */
interface Impl {
  ScoringPipeline: typeof ScoringPipeline;
  OnnxScorer: typeof OnnxScorer;
  fixedModel: typeof fixedModel;
  jsonDecoder: typeof jsonDecoder;
  compileRowWriter: typeof compileRowWriter;
}
const current: Impl = { ScoringPipeline, OnnxScorer, fixedModel, jsonDecoder, compileRowWriter };

async function implAt(dir: string): Promise<Impl> {
  const at = (f: string): Promise<Record<string, unknown>> => import(pathToFileURL(join(dir, 'src', f)).href) as Promise<Record<string, unknown>>;
  const [pipeline, scorer, manager, codec, vectorize] = await Promise.all([
    at('pipeline/pipeline.ts'),
    at('scoring/onnx-scorer.ts'),
    at('scoring/model-manager.ts'),
    at('codec/index.ts'),
    at('scoring/vectorize.ts'),
  ]);
  return { ScoringPipeline: pipeline['ScoringPipeline'], OnnxScorer: scorer['OnnxScorer'], fixedModel: manager['fixedModel'], jsonDecoder: codec['jsonDecoder'], compileRowWriter: vectorize['compileRowWriter'] } as Impl;
}

function floatCase(id: string, label: string, model: BuiltModel, impl: Impl = current): Case {
  return {
    id,
    label,
    events: () => floatEvents(model.features),
    build: async () => {
      const scorer = await impl.OnnxScorer.load(model.bytes, { features: model.features });
      const pipeline = new impl.ScoringPipeline(impl.fixedModel({ name: id, version: '1', scorer }), impl.jsonDecoder, countingSink, { maxBatchSize: 512, maxWaitMs: 5 });
      return { pipeline, release: () => scorer.release() };
    },
  };
}

/** A model of six typed inputs (float32 [N,2], double, int64, int32, bool, string through a OneHotEncoder). */
function typedCase(): Case {
  const model = typedClassifier();
  return {
    id: 'typed7',
    label: 'typed classifier, six inputs of float, double, int64, int32, bool and string (7 fields)',
    events: () => model.events(N, 11),
    build: async () => {
      const scorer = await OnnxScorer.load(model.bytes, { inputs: model.inputs });
      const pipeline = new ScoringPipeline(fixedModel({ name: 'typed7', version: '1', scorer }), jsonDecoder, countingSink, { maxBatchSize: 512, maxWaitMs: 5 });
      return { pipeline, release: () => scorer.release() };
    },
  };
}

const FLOAT_CASES: Record<string, (impl?: Impl) => Case> = {
  logistic32: (impl) => floatCase('logistic32', 'logistic regression, one float input of 32 features', logistic(32, 1), impl),
  trees300: (impl) => floatCase('trees300', '300 trees of depth 6, one float input of 32 features', treeEnsemble(32, 300, 6, 2), impl),
};

const CASES: Case[] = [
  FLOAT_CASES['logistic32']!(),
  FLOAT_CASES['trees300']!(),
  ...(process.env['BENCH_TYPED'] === '0' ? [] : [typedCase()]),
];

/** Encoded partition batches of the case's events, as a consumer hands them over. */
function batchesOf(events: readonly object[]): PartitionBatch[] {
  const out: PartitionBatch[] = [];
  for (let start = 0; start < events.length; start += BATCH) {
    const messages = events.slice(start, start + BATCH).map((e, i) => ({
      key: Buffer.from(`k${start + i}`),
      value: Buffer.from(JSON.stringify(e)),
      offset: String(start + i),
      timestamp: '0',
      headers: {},
    }));
    out.push({ topic: 'bench', partition: 0, messages });
  }
  return out;
}

async function pipelineRate(c: Case, batches: readonly PartitionBatch[]): Promise<number> {
  const { pipeline, release } = await c.build();
  try {
    // One warm-up pass over a tenth, then the measured pass.
    for (const b of batches.slice(0, Math.ceil(batches.length / 10))) await pipeline.process(b);
    sinkCount = 0;
    const t0 = process.hrtime.bigint();
    for (const b of batches) await pipeline.process(b);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (sinkCount !== N) throw new Error(`${c.id}: the sink got ${sinkCount} outcomes, not ${N}`);
    return N / seconds;
  } finally {
    await release();
  }
}

function writerNs(features: readonly string[], events: readonly object[], impl: Impl = current): number {
  const write = impl.compileRowWriter(features);
  const out = new Float32Array(512 * features.length);
  let bad = 0;
  for (let pass = 0; pass < 3; pass++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < events.length; i++) bad += write(events[i], out, (i & 511) * features.length) + 1;
    const ns = Number(process.hrtime.bigint() - t0) / events.length;
    if (bad !== 0) throw new Error('the row writer refused an event');
    if (pass === 2) return ns;
  }
  return Number.NaN;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const compareDir = process.env['BENCH_COMPARE_DIR'];
  const before = compareDir === undefined ? undefined : await implAt(compareDir);
  const data = CASES.map((c) => {
    const events = c.events();
    return { c, events, batches: batchesOf(events) };
  });
  // The float cases again on the earlier code, over the same encoded events.
  const earlier = before === undefined ? [] : data.filter((d) => d.c.id !== 'typed7').map((d) => ({ ...d, c: { ...FLOAT_CASES[d.c.id]!(before), id: `${d.c.id}@before` } }));
  const writerFeatures = logistic(32, 1).features;
  // Parsed from JSON, as the pipeline sees them (objects of one shape with fast properties).
  const writerEvents = data[0]!.batches.flatMap((b) => b.messages.map((m) => JSON.parse(m.value!.toString()) as object));
  const rounds = new Map<string, number[]>();
  const push = (id: string, v: number): void => {
    rounds.set(id, [...(rounds.get(id) ?? []), v]);
  };
  for (let r = 0; r < ROUNDS; r++) {
    // Each case beside its earlier run; BENCH_BEFORE_FIRST=1 runs the earlier one first (to see an order bias).
    const order = process.env['BENCH_BEFORE_FIRST'] === '1' ? -1 : 1;
    for (const d of [...data, ...earlier].sort((a, b) => order * a.c.id.localeCompare(b.c.id))) {
      const rate = await pipelineRate(d.c, d.batches);
      push(d.c.id, rate);
      process.stderr.write(`bench: round ${r + 1} ${d.c.id}: ${Math.round(rate).toLocaleString('en')} events/s\n`);
    }
    push('writer32', writerNs(writerFeatures, writerEvents));
    if (before !== undefined) push('writer32@before', writerNs(writerFeatures, writerEvents, before));
  }
  const figures: Figure[] = [
    ...CASES.map((c) => ({ id: c.id, label: `pipeline: ${c.label}`, unit: 'events/s' as const, rounds: rounds.get(c.id)!, median: median(rounds.get(c.id)!) })),
    { id: 'writer32', label: 'row writer: 32 float features into the input tensor', unit: 'ns/row', rounds: rounds.get('writer32')!, median: median(rounds.get('writer32')!) },
  ];
  const inRun: Baseline | undefined =
    before === undefined
      ? undefined
      : {
          commit: process.env['BENCH_COMPARE_LABEL'] ?? compareDir!,
          date: 'this run',
          figures: figures.flatMap((f) => {
            const r = rounds.get(`${f.id}@before`);
            return r === undefined ? [] : [{ ...f, rounds: r, median: median(r) }];
          }),
        };
  report(figures, inRun);
}

interface Baseline {
  commit: string;
  date: string;
  figures: Figure[];
}

function readBaseline(): Baseline | undefined {
  const file = process.env['BENCH_BASELINE'];
  if (file === undefined || !existsSync(file)) return undefined;
  const b = JSON.parse(readFileSync(file, 'utf8')) as Baseline;
  return { commit: b.commit, date: b.date, figures: b.figures };
}

function shown(f: Figure | undefined): string {
  if (f === undefined) return '-';
  return f.unit === 'ns/row' ? `${f.median.toFixed(0)} ns/row` : `${Math.round(f.median).toLocaleString('en')} events/s`;
}

function report(figures: Figure[], inRun: Baseline | undefined): void {
  const p = provenance();
  const baseline = inRun ?? readBaseline();
  const rows = figures.map((f) => {
    const before = baseline?.figures.find((b) => b.id === f.id);
    const ratio = before === undefined ? (baseline === undefined ? '' : ' | -') : ` | ${(f.median / before.median).toFixed(2)}`;
    const every = f.rounds.map((v) => (f.unit === 'ns/row' ? v.toFixed(0) : Math.round(v).toLocaleString('en'))).join(', ');
    return `| ${f.label} | ${shown(f)}${baseline === undefined ? '' : ` | ${shown(before)}`}${ratio} | ${every} |`;
  });
  const head = baseline === undefined
    ? '| run | median | every round |\n| --- | ---: | --- |'
    : `| run | median | before (commit ${baseline.commit}) | now / before | every round |\n| --- | ---: | ---: | ---: | --- |`;
  const md = `# Pipeline benchmark

Command: \`npm run bench:pipeline\`${baseline === undefined ? '' : inRun !== undefined ? ` with \`BENCH_COMPARE_DIR\` set to a checkout of ${inRun.commit}: before and now in this one process, rounds alternating` : ' with `BENCH_BASELINE` set to the earlier report'} (${p.date}, commit ${p.commit}, ${p.cores} × ${p.cpus}, ${p.memoryGiB} GiB, Node ${p.node}).
No Kafka: ${N.toLocaleString('en')} JSON events, encoded beforehand, go through \`ScoringPipeline.process\` in
partition batches of ${BATCH.toLocaleString('en')} (decode, vectorise, micro-batches of 512, onnxruntime on one thread,
prediction records) into a sink that only counts them. The row writer is the vectorising step
alone, over decoded events. ${ROUNDS} rounds, runs alternating, medians. The machine is shared and noisy:
compare ratios of runs made close together, not absolutes.

${head}
${rows.join('\n')}
`;
  writeReport('bench-pipeline', { ...p, events: N, rounds: ROUNDS, figures, ...(baseline === undefined ? {} : { baseline }) }, md);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
