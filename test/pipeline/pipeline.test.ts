import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { jsonDecoder, jsonPredictionEncoder } from '../../src/codec/json.js';
import type { EventDecoder } from '../../src/codec/types.js';
import { TransientError } from '../../src/errors.js';
import { ScoringPipeline, type PipelineOptions } from '../../src/pipeline/pipeline.js';
import type { OutgoingRecord, Producer } from '../../src/kafka/index.js';
import type { OutputMessage, PartitionBatch, PipelineObserver, Sink, SourceMessage } from '../../src/pipeline/types.js';
import { KafkaSink, type KafkaSinkOptions } from '../../src/producer/kafka-sink.js';
import { HEADERS } from '../../src/producer/provenance.js';
import type { ModelArtifact, ModelSource, Routing } from '../../src/registry/types.js';
import { ModelManager, fixedModel, type ModelProvider, type ServingPlan } from '../../src/scoring/model-manager.js';
import { inShare } from '../../src/scoring/routing.js';
import type { LiveModel, ScoredBatch, Scorer } from '../../src/scoring/types.js';

const OPTIONS: PipelineOptions = {
  maxBatchSize: 100,
  maxWaitMs: 10_000,
};

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Observes a promise without awaiting it. */
function observe<T>(p: Promise<T>) {
  const s: { settled: boolean; error?: unknown } = { settled: false };
  p.then(
    () => Object.assign(s, { settled: true }),
    (error: unknown) => Object.assign(s, { settled: true, error }),
  );
  return s;
}

interface FakeScorerOptions {
  /** Feature names (default ['a', 'b']). */
  features?: string[];
  /** Score of one row, given its feature values (default a + 10*b). */
  score?: (row: Float32Array) => number;
  /** When set, the scorer also answers a label per row. */
  label?: (row: Float32Array) => number;
  /** When set, each call waits for it. */
  gate?: () => Promise<void>;
  /** When set, each call rejects with it. */
  error?: Error;
}

/** A scorer of features ['a', 'b'] answering score = a + 10*b by default. */
function fakeScorer(options: FakeScorerOptions = {}) {
  const features = options.features ?? ['a', 'b'];
  const scoreOfRow = options.score ?? ((r: Float32Array) => r[0]! + 10 * r[1]!);
  const w = features.length;
  const calls: number[] = [];
  let released = 0;
  const scorer: Scorer = {
    spec: {
      features,
      inputName: 'input',
      inputShape: ['N', w],
      outputs: options.label === undefined ? { score: 's' } : { score: 's', label: 'l' },
    },
    async score(input: Float32Array, rows: number): Promise<ScoredBatch> {
      calls.push(rows);
      const score = new Float32Array(rows);
      const label = options.label === undefined ? undefined : new Int32Array(rows);
      for (let r = 0; r < rows; r++) {
        const row = input.subarray(r * w, (r + 1) * w);
        score[r] = scoreOfRow(row);
        if (label !== undefined) label[r] = options.label!(row);
      }
      if (options.gate !== undefined) await options.gate();
      if (options.error !== undefined) throw options.error;
      return { rows, score, classes: 0, ...(label === undefined ? {} : { label }) };
    },
    run: () => Promise.reject(new Error('not used')),
    release() {
      released++;
      return Promise.resolve();
    },
  };
  return { scorer, calls, released: () => released };
}

function liveOf(version: string, scorer: Scorer, name = 'demo'): LiveModel {
  return { name, version, scorer };
}

/**
 * A provider serving whatever plan the test sets. It checks that each release() pairs with an
 * acquire(): `held` lists the plans acquired and not yet released.
 */
function fakeProvider(initial: ServingPlan | undefined) {
  let plan = initial;
  const held: ServingPlan[] = [];
  const acquired: ServingPlan[] = [];
  const released: ServingPlan[] = [];
  const provider: ModelProvider = {
    acquire() {
      if (plan !== undefined) {
        held.push(plan);
        acquired.push(plan);
      }
      return plan;
    },
    release(p) {
      const i = held.indexOf(p);
      if (i < 0) throw new Error('released a plan that was not acquired');
      held.splice(i, 1);
      released.push(p);
    },
  };
  return {
    provider,
    held,
    acquired,
    released,
    setPlan: (next: ServingPlan | undefined) => {
      plan = next;
    },
  };
}

/**
 * The real Kafka sink (JSON predictions) over a producer that records what it is asked to send.
 * The sink sends a batch's shadow predictions on their own, beside the batch's predictions and
 * dead letters; `sends` shows them merged, each shadow record after its event's prediction, as one
 * list per batch.
 */
function fakeSink(manual = false, options: Partial<KafkaSinkOptions> = {}) {
  const sends: OutputMessage[][] = [];
  const pending: ReturnType<typeof deferred<void>>[] = [];
  const shadowTopic = options.shadowTopic ?? 'predictions.shadow';
  // Header values may be strings or Buffers on the wire; compare them as text.
  const normalized = (m: OutgoingRecord): OutputMessage => ({
    ...(m as OutputMessage),
    headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : v])),
  });
  const producer: Producer = {
    send(records) {
      const out = records.map(normalized);
      if (out.every((o) => o.topic === shadowTopic)) {
        // Shadows follow the batch's own send: each goes after its event's prediction.
        const last = sends[sends.length - 1]!;
        for (const sh of out) {
          const at = last.findIndex((o) => o.topic === 'predictions' && o.headers[HEADERS.sourceOffset] === sh.headers[HEADERS.sourceOffset]);
          last.splice(at + 1, 0, sh);
        }
        return Promise.resolve();
      }
      sends.push(out);
      if (!manual) return Promise.resolve();
      const d = deferred();
      pending.push(d);
      return d.promise;
    },
    transaction: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
  };
  const sink: Sink = new KafkaSink(producer, { predictionsTopic: 'predictions', deadLetterTopic: 'features.dlq', shadowTopic, encoder: jsonPredictionEncoder, ...options });
  return { sink, sends, pending };
}

function msg(offset: number, value: object | string | null, headers?: SourceMessage['headers'], key: Buffer | null = Buffer.from(`key-${offset}`)): SourceMessage {
  return {
    key,
    value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    offset: String(offset),
    timestamp: String(1_700_000_000_000 + offset),
    ...(headers === undefined ? {} : { headers }),
  };
}

function batchOf(messages: SourceMessage[], partition = 3): PartitionBatch {
  return { topic: 'features', partition, messages };
}

/** `n` good messages from offset `from`, each with a = offset, b = 1 (score offset + 10). */
function goodMessages(from: number, n: number): SourceMessage[] {
  return Array.from({ length: n }, (_, i) => msg(from + i, { a: from + i, b: 1 }));
}

function setup(options: Partial<PipelineOptions> = {}, observer: PipelineObserver = {}, sinkManual = false) {
  const model = fakeScorer();
  const live = liveOf('1', model.scorer);
  const models = fakeProvider({ primary: live });
  const sink = fakeSink(sinkManual);
  const pipeline = new ScoringPipeline(models.provider, jsonDecoder, sink.sink, { ...OPTIONS, ...options }, observer);
  return {
    pipeline,
    model,
    live,
    models,
    sink,
    setLive: (next: LiveModel | undefined) => models.setPlan(next === undefined ? undefined : { primary: next }),
    setPlan: models.setPlan,
  };
}

/** A registry with versions 1..9 whose production alias the test moves; versions load as `scorers` says. */
function managed(scorers: Record<string, Scorer>) {
  const aliases: Record<string, string> = { production: '1' };
  const source: ModelSource = {
    routing: (): Promise<Routing> => Promise.resolve({ aliases: { ...aliases } }),
    getVersion: (name, version): Promise<ModelArtifact | undefined> =>
      Promise.resolve({
        meta: {
          name,
          version,
          sha256: `sha-${version}`,
          size: 1,
          createdAt: '2024-01-01T00:00:00.000Z',
          createdBy: 'test',
          description: '',
          features: ['a', 'b'],
          inputs: [{ name: 'input', type: 'float32', shape: ['N', 2], fields: ['a', 'b'] }],
          outputs: { score: 's' },
          storage: { kind: 'inline' },
        },
        bytes: Buffer.from(version),
      }),
  };
  const manager = new ModelManager(source, 'demo', 'production', (a) => Promise.resolve(scorers[a.meta.version]!), pino({ level: 'silent' }));
  return { manager, aliases };
}

const scoreOf = (o: OutputMessage) => (JSON.parse(String(o.value)) as { score: number }).score;
const versionsOf = (out: readonly OutputMessage[]) => out.map((o) => o.headers[HEADERS.version]);

describe('ScoringPipeline', () => {
  it('gives one output per message, in order: predictions and dead letters', async () => {
    const { pipeline, sink, model } = setup();
    const messages = [
      msg(10, { a: 1, b: 2, extra: 'x' }),
      msg(11, '{"a": 1, "b":', { trace: 'abc' }),
      msg(12, { a: 1 }),
      msg(13, { a: 0.5, b: 0 }),
      msg(14, { a: 'one', b: 2 }),
      msg(15, '{"a": 1e999, "b": 0}'),
      msg(16, null),
      msg(17, [1, 2]),
    ];
    await pipeline.process(batchOf(messages));

    expect(sink.sends).toHaveLength(1);
    const out = sink.sends[0]!;
    expect(out).toHaveLength(messages.length);
    expect(out.map((o) => o.topic)).toEqual([
      'predictions', 'features.dlq', 'features.dlq', 'predictions', 'features.dlq', 'features.dlq', 'features.dlq', 'features.dlq',
    ]);
    expect(out.map((o) => o.key?.toString())).toEqual(messages.map((m) => m.key?.toString()));
    expect(model.calls).toEqual([2]);

    expect(JSON.parse(String(out[0]!.value))).toEqual({ model: 'demo', version: '1', score: 21, label: null, probabilities: null });
    expect(scoreOf(out[3]!)).toBe(0.5);
    expect(out[0]!.headers).toEqual({
      [HEADERS.model]: 'demo',
      [HEADERS.version]: '1',
      [HEADERS.sourceTopic]: 'features',
      [HEADERS.sourcePartition]: '3',
      [HEADERS.sourceOffset]: '10',
    });

    const dlq = out[1]!;
    expect(dlq.value).toBe(messages[1]!.value); // the original bytes
    expect(dlq.headers).toMatchObject({
      trace: 'abc', // the original headers are kept
      [HEADERS.dlqReason]: 'decode-error',
      [HEADERS.sourceTopic]: 'features',
      [HEADERS.sourcePartition]: '3',
      [HEADERS.sourceOffset]: '11',
    });
    expect(String(dlq.headers[HEADERS.dlqDetail])).toMatch(/not JSON/);
    expect(out.map((o) => o.headers[HEADERS.dlqReason])).toEqual([
      undefined, 'decode-error', 'missing-feature', undefined, 'non-numeric-feature', 'non-finite-feature', 'decode-error', 'decode-error',
    ]);
    expect(String(out[2]!.headers[HEADERS.dlqDetail])).toBe('feature "b" is missing');
    expect(out[6]!.value).toEqual(Buffer.alloc(0)); // a null value is dead-lettered as empty
  });

  it('splits a batch larger than maxBatchSize into several scoring calls, outputs still in order', async () => {
    const { pipeline, sink, model } = setup({ maxBatchSize: 3 });
    const messages = goodMessages(0, 11);
    messages[1] = msg(1, { a: 1 }); // poison rows shift the row numbering across chunks
    messages[5] = msg(5, 'nope');
    await pipeline.process(batchOf(messages));

    expect(model.calls).toEqual([3, 3, 3]);
    const out = sink.sends[0]!;
    expect(out).toHaveLength(11);
    out.forEach((o, i) => {
      if (i === 1 || i === 5) expect(o.topic).toBe('features.dlq');
      else expect(scoreOf(o)).toBe(i + 10);
    });
  });

  it('handles a batch that is an exact multiple of maxBatchSize, and one with only poison', async () => {
    const { pipeline, sink, model } = setup({ maxBatchSize: 2 });
    await pipeline.process(batchOf(goodMessages(0, 4)));
    expect(model.calls).toEqual([2, 2]);
    expect(sink.sends[0]!.map(scoreOf)).toEqual([10, 11, 12, 13]);

    await pipeline.process(batchOf([msg(9, 'x'), msg(10, { b: 1 })]));
    expect(model.calls).toEqual([2, 2]);
    expect(sink.sends[1]!.map((o) => o.topic)).toEqual(['features.dlq', 'features.dlq']);
  });

  it('lets two process() calls started together share one scoring call', async () => {
    const { pipeline, sink, model } = setup({ maxBatchSize: 10, maxWaitMs: 10_000 });
    const started = Date.now();
    await Promise.all([
      pipeline.process(batchOf(goodMessages(0, 2), 0)),
      pipeline.process(batchOf(goodMessages(100, 3), 1)),
    ]);
    expect(Date.now() - started).toBeLessThan(1000); // not held for maxWaitMs
    expect(model.calls).toEqual([5]);
    expect(sink.sends).toHaveLength(2);
    const byPartition = Object.fromEntries(sink.sends.map((s) => [s[0]!.headers[HEADERS.sourcePartition], s.map(scoreOf)]));
    expect(byPartition).toEqual({ '0': [10, 11], '1': [110, 111, 112] });
  });

  it('calls the sink once per process() and resolves only after the sink does', async () => {
    const { pipeline, sink } = setup({}, {}, true);
    const done = observe(pipeline.process(batchOf(goodMessages(0, 3))));
    await vi.waitFor(() => expect(sink.sends).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 10));
    expect(done.settled).toBe(false);
    sink.pending[0]!.resolve();
    await vi.waitFor(() => expect(done.settled).toBe(true));
    expect(done.error).toBeUndefined();
    expect(sink.sends).toHaveLength(1);
  });

  it('rejects process() when the sink rejects', async () => {
    const { pipeline, sink } = setup({}, {}, true);
    const p = pipeline.process(batchOf(goodMessages(0, 1)));
    await vi.waitFor(() => expect(sink.pending).toHaveLength(1));
    const err = new Error('broker down');
    sink.pending[0]!.reject(err);
    await expect(p).rejects.toBe(err);
  });

  it('does nothing for an empty batch', async () => {
    const observer = { batchReceived: vi.fn() };
    const { pipeline, sink, models } = setup({}, observer);
    await pipeline.process(batchOf([]));
    expect(sink.sends).toHaveLength(0);
    expect(observer.batchReceived).not.toHaveBeenCalled();
    expect(models.acquired).toHaveLength(0);
  });

  it('rejects (nothing sent) when the decoder cannot prepare, e.g. the schema registry is down', async () => {
    const model = fakeScorer();
    const sink = fakeSink();
    const decoder: EventDecoder = {
      prepare: () => Promise.reject(new TransientError('SCHEMA_REGISTRY_UNAVAILABLE', 'down')),
      decode: jsonDecoder.decode,
    };
    const live: LiveModel = { name: 'demo', version: '1', scorer: model.scorer };
    const pipeline = new ScoringPipeline(fixedModel(live), decoder, sink.sink, OPTIONS);
    await expect(pipeline.process(batchOf(goodMessages(0, 1)))).rejects.toBeInstanceOf(TransientError);
    expect(sink.sends).toHaveLength(0);
    expect(model.calls).toHaveLength(0);
  });

  it('refuses to process before a model is loaded', async () => {
    const { pipeline, setLive } = setup();
    setLive(undefined);
    await expect(pipeline.process(batchOf(goodMessages(0, 1)))).rejects.toThrow(/before a model was loaded/);
  });

  it('releases the plan it acquired when scoring fails, and sends nothing', async () => {
    const { pipeline, sink, setLive, models } = setup();
    const err = new Error('onnxruntime crashed');
    setLive(liveOf('1', fakeScorer({ error: err }).scorer));
    await expect(pipeline.process(batchOf(goodMessages(0, 3)))).rejects.toBe(err);
    expect(sink.sends).toHaveLength(0);
    expect(models.acquired).toHaveLength(1);
    expect(models.held).toHaveLength(0);
  });

  it('reads the features from featuresField when set', async () => {
    const { pipeline, sink } = setup({ featuresField: 'features' });
    await pipeline.process(batchOf([msg(0, { id: 'x', features: { a: 2, b: 3 } }), msg(1, { a: 2, b: 3 })]));
    const out = sink.sends[0]!;
    expect(scoreOf(out[0]!)).toBe(32);
    expect(out[1]!.headers[HEADERS.dlqReason]).toBe('decode-error');
  });

  it('reads features from a dotted featuresField and from paths of their own', async () => {
    const { pipeline, sink } = setup({ featuresField: 'payload.features', featurePaths: [{ feature: 'b', path: ['meta', 'b'] }] });
    const event = { payload: { features: { a: 2 } }, meta: { b: 3 } };
    await pipeline.process(batchOf([msg(0, event), msg(1, { payload: { features: { a: 2 } } }), msg(2, { a: 2, b: 3 })]));
    const out = sink.sends[0]!;
    expect(scoreOf(out[0]!)).toBe(32);
    expect(out[1]!.headers[HEADERS.dlqReason]).toBe('missing-feature');
    expect(out[1]!.headers[HEADERS.dlqDetail]).toBe('feature "b" (at meta.b) is missing');
    expect(out[2]!.headers[HEADERS.dlqDetail]).toBe('event has no object of features at "payload.features"');
  });

  it('uses the new plan from the next batch; a batch in flight keeps and then releases its own', async () => {
    const gate = deferred();
    const { pipeline, sink, setLive, models, model: unused } = setup();
    // Make the old model's first call wait so a batch is still in flight during the swap.
    const slowOld = fakeScorer({ gate: () => gate.promise });
    setLive(liveOf('1', slowOld.scorer));
    const first = pipeline.process(batchOf(goodMessages(0, 2)));
    await vi.waitFor(() => expect(slowOld.calls).toEqual([2]));
    const oldPlan = models.held[0]!;
    expect(models.held).toEqual([oldPlan]);

    const newModel = fakeScorer();
    setLive(liveOf('2', newModel.scorer));
    await pipeline.process(batchOf(goodMessages(10, 1)));
    expect(newModel.calls).toEqual([1]);
    expect(versionsOf(sink.sends[0]!)).toEqual(['2']);
    expect(models.held).toEqual([oldPlan]); // the new batch released its plan, the old one still holds

    gate.resolve();
    await first;
    expect(versionsOf(sink.sends[1]!)).toEqual(['1', '1']);
    expect(models.held).toEqual([]);
    expect(models.released).toHaveLength(2);

    await pipeline.process(batchOf(goodMessages(20, 1)));
    expect(versionsOf(sink.sends[2]!)).toEqual(['2']);
    expect(slowOld.calls).toEqual([2]);
    // Releasing scorers is the provider's job, never the pipeline's.
    expect(slowOld.released()).toBe(0);
    expect(newModel.released()).toBe(0);
    expect(unused.released()).toBe(0);
  });

  it('with a ModelManager, releases the old scorer once, after its last batch', async () => {
    const gate = deferred();
    const slowOld = fakeScorer({ gate: () => gate.promise });
    const newModel = fakeScorer();
    const { manager, aliases } = managed({ '1': slowOld.scorer, '2': newModel.scorer });
    await manager.refresh();
    const sink = fakeSink();
    const pipeline = new ScoringPipeline(manager, jsonDecoder, sink.sink, OPTIONS);

    const first = pipeline.process(batchOf(goodMessages(0, 2)));
    await vi.waitFor(() => expect(slowOld.calls).toEqual([2]));
    aliases['production'] = '2';
    await manager.refresh();

    await pipeline.process(batchOf(goodMessages(10, 1)));
    expect(newModel.calls).toEqual([1]);
    expect(versionsOf(sink.sends[0]!)).toEqual(['2']);
    expect(slowOld.released()).toBe(0); // its batch is still being scored

    gate.resolve();
    await first;
    expect(versionsOf(sink.sends[1]!)).toEqual(['1', '1']);
    await vi.waitFor(() => expect(slowOld.released()).toBe(1));

    await pipeline.process(batchOf(goodMessages(20, 1)));
    expect(versionsOf(sink.sends[2]!)).toEqual(['2']);
    await new Promise((r) => setTimeout(r, 10));
    expect(slowOld.released()).toBe(1);
    expect(newModel.released()).toBe(0);
  });

  it('with a ModelManager, releases an idle old scorer at the swap; the next batch uses the new model', async () => {
    const old = fakeScorer();
    const next = fakeScorer();
    const { manager, aliases } = managed({ '1': old.scorer, '2': next.scorer });
    await manager.refresh();
    const sink = fakeSink();
    const pipeline = new ScoringPipeline(manager, jsonDecoder, sink.sink, OPTIONS);
    await pipeline.process(batchOf(goodMessages(0, 1)));
    expect(old.released()).toBe(0);

    aliases['production'] = '2';
    await manager.refresh();
    await vi.waitFor(() => expect(old.released()).toBe(1));
    await pipeline.process(batchOf(goodMessages(1, 1)));
    expect(versionsOf(sink.sends[1]!)).toEqual(['2']);
    expect(old.released()).toBe(1);
  });

  it('holds one plan for a whole batch: a swap while it is scored does not reach its later chunks', async () => {
    const gate = deferred();
    const v1 = fakeScorer({ gate: () => gate.promise });
    const v2 = fakeScorer({ score: () => -1 });
    const { pipeline, sink, setLive, models } = setup({ maxBatchSize: 2 });
    setLive(liveOf('1', v1.scorer));
    const first = pipeline.process(batchOf(goodMessages(0, 5))); // 3 chunks: 2 + 2 + 1
    await vi.waitFor(() => expect(v1.calls).toEqual([2]));
    setLive(liveOf('2', v2.scorer));
    await new Promise((r) => setTimeout(r, 10));
    gate.resolve();
    await first;

    expect(v1.calls).toEqual([2, 2, 1]);
    expect(v2.calls).toEqual([]);
    expect(versionsOf(sink.sends[0]!)).toEqual(['1', '1', '1', '1', '1']);
    expect(sink.sends[0]!.map(scoreOf)).toEqual([10, 11, 12, 13, 14]);
    expect(models.acquired).toHaveLength(1);

    await pipeline.process(batchOf(goodMessages(5, 2)));
    expect(versionsOf(sink.sends[1]!)).toEqual(['2', '2']);
  });

  it('reports to the observer with the right counts, publishing only after the sink resolved', async () => {
    const observer = {
      batchReceived: vi.fn(),
      batchScored: vi.fn(),
      predictionsPublished: vi.fn(),
      deadLettered: vi.fn(),
      shadowCompared: vi.fn(),
    };
    const { pipeline, sink } = setup({ maxBatchSize: 2 }, observer, true);
    const messages = [...goodMessages(0, 3), msg(3, 'bad'), msg(4, { a: 1 })];
    const done = pipeline.process(batchOf(messages));
    await vi.waitFor(() => expect(sink.pending).toHaveLength(1));

    expect(observer.batchReceived).toHaveBeenCalledExactlyOnceWith('features', 3, 5, 'demo');
    expect(observer.batchScored.mock.calls.map((c) => [c[0], c[2], c[3]])).toEqual([
      [2, 'demo', '1'],
      [1, 'demo', '1'],
    ]);
    expect(observer.batchScored.mock.calls.every((c) => typeof c[1] === 'number' && c[1] >= 0)).toBe(true);
    expect(observer.predictionsPublished).not.toHaveBeenCalled();
    expect(observer.deadLettered).not.toHaveBeenCalled();

    sink.pending[0]!.resolve();
    await done;
    expect(observer.predictionsPublished).toHaveBeenCalledExactlyOnceWith(3, 1_700_000_000_000, 'demo', 'features', 3);
    expect(observer.deadLettered.mock.calls).toEqual([
      ['decode-error', 1, 'demo'],
      ['missing-feature', 1, 'demo'],
    ]);
    expect(observer.shadowCompared).not.toHaveBeenCalled(); // no shadow in the plan
  });

  describe('canary', () => {
    function canarySetup(share: number, canaryOptions: FakeScorerOptions = {}) {
      const primary = fakeScorer();
      const canary = fakeScorer({ score: (r) => 1000 + r[0]!, ...canaryOptions });
      const plan: ServingPlan = {
        primary: liveOf('1', primary.scorer),
        canary: { model: liveOf('2', canary.scorer), alias: 'canary', share },
      };
      const models = fakeProvider(plan);
      const sink = fakeSink();
      const observer = { batchScored: vi.fn(), predictionsPublished: vi.fn(), canaryFallback: vi.fn() };
      const pipeline = new ScoringPipeline(models.provider, jsonDecoder, sink.sink, OPTIONS, observer);
      return { pipeline, sink, primary, canary, models, observer };
    }

    const userMessages = (n: number) =>
      Array.from({ length: n }, (_, i) => msg(i, { a: i, b: 1 }, undefined, Buffer.from(`user-${i}`)));

    it('scores the keys in the share with the canary and the others with the primary, in order', async () => {
      const { pipeline, sink, primary, canary, observer } = canarySetup(0.3);
      const messages = userMessages(200);
      messages.push(msg(200, { a: 200, b: 1 }, undefined, null)); // a null key goes to the primary
      await pipeline.process(batchOf(messages));

      const toCanary = messages.map((m) => inShare(m.key, 0.3));
      const inCanary = toCanary.filter(Boolean).length;
      expect(inCanary).toBeGreaterThan(30); // the test means something: both routes get events
      expect(inCanary).toBeLessThan(90);
      expect(toCanary[200]).toBe(false);

      const out = sink.sends[0]!;
      expect(out).toHaveLength(201);
      out.forEach((o, i) => {
        expect(o.topic).toBe('predictions');
        expect(o.key).toBe(messages[i]!.key);
        expect(o.headers[HEADERS.sourceOffset]).toBe(String(i));
        if (toCanary[i]) {
          expect(o.headers[HEADERS.version]).toBe('2');
          expect(JSON.parse(String(o.value))).toMatchObject({ version: '2', score: 1000 + i });
        } else {
          expect(o.headers[HEADERS.version]).toBe('1');
          expect(JSON.parse(String(o.value))).toMatchObject({ version: '1', score: i + 10 });
        }
      });
      const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
      expect(sum(canary.calls)).toBe(inCanary);
      expect(sum(primary.calls)).toBe(201 - inCanary);
      expect(primary.calls.every((n) => n <= OPTIONS.maxBatchSize)).toBe(true);
      const scoredRows = (version: string) =>
        sum(observer.batchScored.mock.calls.filter((c) => c[3] === version).map((c) => c[0] as number));
      expect([scoredRows('1'), scoredRows('2')]).toEqual([201 - inCanary, inCanary]);
      expect(observer.predictionsPublished).toHaveBeenCalledExactlyOnceWith(201, 1_700_000_000_000, 'demo', 'features', 3);
    });

    it('routes the same key the same way in every batch', async () => {
      const { pipeline, sink } = canarySetup(0.5);
      await pipeline.process(batchOf(userMessages(50)));
      await pipeline.process(batchOf(userMessages(50).reverse()));
      const first = new Map(sink.sends[0]!.map((o) => [o.key!.toString(), o.headers[HEADERS.version]]));
      const second = new Map(sink.sends[1]!.map((o) => [o.key!.toString(), o.headers[HEADERS.version]]));
      expect(second).toEqual(first);
    });

    it('with share 1 scores every keyed event with the canary, and a null key still with the primary', async () => {
      const { pipeline, sink, primary } = canarySetup(1);
      await pipeline.process(batchOf([...userMessages(20), msg(20, { a: 1, b: 1 }, undefined, null)]));
      expect(versionsOf(sink.sends[0]!)).toEqual([...Array<string>(20).fill('2'), '1']);
      expect(primary.calls).toEqual([1]);
    });

    it("scores with the primary an event routed to the canary that lacks a canary feature, and counts it", async () => {
      const { pipeline, sink, observer } = canarySetup(1, { features: ['a', 'b', 'c'], score: (r) => 1000 + r[0]! });
      await pipeline.process(batchOf([
        msg(0, { a: 1, b: 1 }, undefined, Buffer.from('user-0')),
        msg(1, { a: 1, b: 1, c: 1 }, undefined, Buffer.from('user-1')),
        msg(2, { a: 1, b: 1 }, undefined, null),
        msg(3, { a: 1 }, undefined, Buffer.from('user-3')),
      ]));
      const out = sink.sends[0]!;
      expect(out.map((o) => o.topic)).toEqual(['predictions', 'predictions', 'predictions', 'features.dlq']);
      expect(versionsOf(out.slice(0, 3))).toEqual(['1', '2', '1']);
      // Lacking what the primary needs too, it is poison: the canary's reason is given.
      expect(out[3]!.headers[HEADERS.dlqReason]).toBe('missing-feature');
      expect(String(out[3]!.headers[HEADERS.dlqDetail])).toBe('feature "b" is missing');
      expect(observer.canaryFallback).toHaveBeenCalledExactlyOnceWith(1, 'demo');
    });
  });

  describe('shadow', () => {
    /** Primary scores a, shadow scores b: they agree when a and b are on the same side of 0.5. */
    function shadowSetup(options: Partial<PipelineOptions & { shadowTopic: string }> = {}, shadowOptions: FakeScorerOptions = {}, primaryOptions: FakeScorerOptions = {}) {
      const primary = fakeScorer({ score: (r) => r[0]!, ...primaryOptions });
      const shadow = fakeScorer({ score: (r) => r[1]!, ...shadowOptions });
      const plan: ServingPlan = { primary: liveOf('1', primary.scorer), shadow: liveOf('3', shadow.scorer) };
      const models = fakeProvider(plan);
      const sink = fakeSink(false, options.shadowTopic === undefined ? {} : { shadowTopic: options.shadowTopic });
      const observer = { shadowCompared: vi.fn(), predictionsPublished: vi.fn(), deadLettered: vi.fn() };
      const pipeline = new ScoringPipeline(models.provider, jsonDecoder, sink.sink, { ...OPTIONS, ...options }, observer);
      return { pipeline, sink, primary, shadow, observer, models };
    }

    it('adds one shadow output after each valid event, none for poison, with the shadow version', async () => {
      const { pipeline, sink, shadow, observer } = shadowSetup();
      const messages = [
        msg(0, { a: 0.9, b: 0.8 }),
        msg(1, 'not json'),
        msg(2, { a: 0.2, b: 0.7 }),
        msg(3, { a: 0.1 }),
        msg(4, { a: 0.4, b: 0.3 }),
      ];
      await pipeline.process(batchOf(messages));

      const out = sink.sends[0]!;
      expect(out.map((o) => [o.topic, o.headers[HEADERS.sourceOffset]])).toEqual([
        ['predictions', '0'],
        ['predictions.shadow', '0'],
        ['features.dlq', '1'],
        ['predictions', '2'],
        ['predictions.shadow', '2'],
        ['features.dlq', '3'],
        ['predictions', '4'],
        ['predictions.shadow', '4'],
      ]);
      const shadowOut = out.filter((o) => o.topic === 'predictions.shadow');
      for (const o of shadowOut) {
        expect(o.headers).toMatchObject({
          [HEADERS.model]: 'demo',
          [HEADERS.version]: '3',
          [HEADERS.sourceTopic]: 'features',
          [HEADERS.sourcePartition]: '3',
        });
        expect(o.headers[HEADERS.dlqReason]).toBeUndefined();
      }
      expect(shadowOut.map((o) => o.key?.toString())).toEqual(['key-0', 'key-2', 'key-4']);
      expect(shadowOut.map((o) => JSON.parse(String(o.value)) as { version: string; score: number })).toEqual([
        { model: 'demo', version: '3', score: Math.fround(0.8), label: null, probabilities: null },
        { model: 'demo', version: '3', score: Math.fround(0.7), label: null, probabilities: null },
        { model: 'demo', version: '3', score: Math.fround(0.3), label: null, probabilities: null },
      ]);
      expect(versionsOf(out.filter((o) => o.topic === 'predictions'))).toEqual(['1', '1', '1']);
      expect(shadow.calls).toEqual([3]);
      // Shadow outputs are not predictions: the counts are the primary's.
      expect(observer.predictionsPublished).toHaveBeenCalledExactlyOnceWith(3, 1_700_000_000_000, 'demo', 'features', 3);
      expect(observer.deadLettered).toHaveBeenCalledTimes(2);
    });

    it('writes to the sink\'s shadowTopic when set', async () => {
      const { pipeline, sink } = shadowSetup({ shadowTopic: 'scores.shadow' });
      await pipeline.process(batchOf([msg(0, { a: 0.9, b: 0.8 })]));
      expect(sink.sends[0]!.map((o) => o.topic)).toEqual(['predictions', 'scores.shadow']);
    });

    it('counts agreement and score differences with the primary per batch', async () => {
      const { pipeline, observer } = shadowSetup();
      const rows: [number, number][] = [
        [0.9, 0.8], // agree
        [0.2, 0.7], // disagree
        [0.6, 0.1], // disagree
        [0.1, 0.3], // agree
        [0.5, 0.49], // disagree: 0.5 is on the positive side
        [0.5, 0.5], // agree
      ];
      await pipeline.process(batchOf([...rows.map(([a, b], i) => msg(i, { a, b })), msg(99, 'poison')]));
      expect(observer.shadowCompared).toHaveBeenCalledTimes(1);
      const [agree, disagree, diffs] = observer.shadowCompared.mock.calls[0]! as [number, number, number[]];
      expect([agree, disagree]).toEqual([3, 3]);
      expect(diffs).toHaveLength(rows.length);
      diffs.forEach((d, i) => expect(d).toBeCloseTo(Math.abs(rows[i]![0] - rows[i]![1]), 6));
    });

    it('compares by label when both models give one', async () => {
      const { pipeline, observer } = shadowSetup(
        {},
        { score: (r) => r[1]!, label: (r) => (r[0]! > 0 ? 1 : 0) },
        { score: (r) => r[0]!, label: (r) => (r[0]! > 0 ? 1 : 0) },
      );
      // Scores fall on opposite sides of 0.5, yet the labels are the same: they agree.
      await pipeline.process(batchOf([msg(0, { a: 0.9, b: 0.1 }), msg(1, { a: -0.9, b: 0.1 })]));
      expect(observer.shadowCompared.mock.calls[0]!.slice(0, 2)).toEqual([2, 0]);
    });

    it('skips the shadow output of an event lacking a shadow feature; the primary output is still there', async () => {
      const { pipeline, sink, shadow, observer } = shadowSetup({}, { features: ['a', 'b', 'c'], score: (r) => r[2]! });
      await pipeline.process(batchOf([
        msg(0, { a: 0.9, b: 0.8 }),
        msg(1, { a: 0.9, b: 0.8, c: 0.7 }),
        msg(2, { a: 0.9, b: 0.8, c: 'x' }),
        msg(3, { a: 0.2, b: 0.8, c: 0.7 }),
      ]));
      const out = sink.sends[0]!;
      expect(out.map((o) => [o.topic, o.headers[HEADERS.sourceOffset]])).toEqual([
        ['predictions', '0'],
        ['predictions', '1'],
        ['predictions.shadow', '1'],
        ['predictions', '2'],
        ['predictions', '3'],
        ['predictions.shadow', '3'],
      ]);
      expect(out.filter((o) => o.topic === 'predictions').map(scoreOf)).toEqual([0.9, 0.9, 0.9, 0.2].map(Math.fround));
      expect(out.filter((o) => o.topic === 'predictions.shadow').map(scoreOf)).toEqual([0.7, 0.7].map(Math.fround));
      expect(shadow.calls).toEqual([2]);
      expect(observer.shadowCompared.mock.calls[0]!.slice(0, 2)).toEqual([1, 1]);
      expect(observer.deadLettered).not.toHaveBeenCalled(); // a shadow problem is not the event's
    });

    it('keeps each shadow output with its event across chunks when the shadow skips some events', async () => {
      const { pipeline, sink, primary, shadow } = shadowSetup({ maxBatchSize: 2 }, { features: ['a', 'b', 'c'], score: (r) => r[2]! });
      // c = 100 + offset where present; events 1, 4 and 5 lack it; event 6 is poison for both.
      const messages = Array.from({ length: 9 }, (_, i) =>
        i === 6 ? msg(i, 'poison') : msg(i, [1, 4, 5].includes(i) ? { a: i, b: 0 } : { a: i, b: 0, c: 100 + i }),
      );
      await pipeline.process(batchOf(messages));
      const out = sink.sends[0]!;
      const byTopic = (topic: string) => out.filter((o) => o.topic === topic).map((o) => [o.headers[HEADERS.sourceOffset], scoreOf(o)]);
      expect(byTopic('predictions')).toEqual([0, 1, 2, 3, 4, 5, 7, 8].map((i) => [String(i), i]));
      expect(byTopic('predictions.shadow')).toEqual([0, 2, 3, 7, 8].map((i) => [String(i), 100 + i]));
      expect(primary.calls).toEqual([2, 2, 2, 2]);
      expect(shadow.calls).toEqual([2, 2, 1]);
    });

    it('shadows the events routed to the canary too, comparing with the canary', async () => {
      const primary = fakeScorer({ score: () => 0.9 });
      const canary = fakeScorer({ score: () => 0.1 });
      const shadow = fakeScorer({ score: () => 0.2 });
      const plan: ServingPlan = {
        primary: liveOf('1', primary.scorer),
        canary: { model: liveOf('2', canary.scorer), alias: 'canary', share: 1 },
        shadow: liveOf('3', shadow.scorer),
      };
      const sink = fakeSink();
      const observer = { shadowCompared: vi.fn() };
      const pipeline = new ScoringPipeline(fakeProvider(plan).provider, jsonDecoder, sink.sink, OPTIONS, observer);
      await pipeline.process(batchOf([msg(0, { a: 1, b: 1 }), msg(1, { a: 1, b: 1 }, undefined, null)]));
      expect(sink.sends[0]!.map((o) => [o.topic, o.headers[HEADERS.version]])).toEqual([
        ['predictions', '2'],
        ['predictions.shadow', '3'],
        ['predictions', '1'],
        ['predictions.shadow', '3'],
      ]);
      expect(observer.shadowCompared.mock.calls[0]!.slice(0, 2)).toEqual([1, 1]); // agrees with the canary, not the primary
    });

    it('scores a shadow that is the primary version as a second route of the same model', async () => {
      const model = fakeScorer({ score: (r) => r[0]! });
      const live = liveOf('1', model.scorer);
      const sink = fakeSink();
      const observer = { shadowCompared: vi.fn() };
      const pipeline = new ScoringPipeline(fakeProvider({ primary: live, shadow: live }).provider, jsonDecoder, sink.sink, OPTIONS, observer);
      await pipeline.process(batchOf([msg(0, { a: 0.25, b: 0 }), msg(1, { a: 0.75, b: 0 })]));
      expect(sink.sends[0]!.map((o) => [o.topic, scoreOf(o)])).toEqual([
        ['predictions', 0.25],
        ['predictions.shadow', 0.25],
        ['predictions', 0.75],
        ['predictions.shadow', 0.75],
      ]);
      expect(observer.shadowCompared).toHaveBeenCalledExactlyOnceWith(2, 0, [0, 0], 'demo');
    });
  });
});
