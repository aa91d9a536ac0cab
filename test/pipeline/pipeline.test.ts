import { describe, expect, it, vi } from 'vitest';
import { jsonDecoder, jsonPredictionEncoder } from '../../src/codec/json.js';
import type { EventDecoder } from '../../src/codec/types.js';
import { TransientError } from '../../src/errors.js';
import { ScoringPipeline, type PipelineOptions } from '../../src/pipeline/pipeline.js';
import { HEADERS, type OutputMessage, type PartitionBatch, type PipelineObserver, type Sink, type SourceMessage } from '../../src/pipeline/types.js';
import type { LiveModel, ScoredBatch, Scorer } from '../../src/scoring/types.js';

const OPTIONS: PipelineOptions = {
  predictionsTopic: 'predictions',
  deadLetterTopic: 'features.dlq',
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

/** A scorer of features ['a', 'b'] answering score = a + 10*b; with `gate`, each call waits for it. */
function fakeScorer(gate?: () => Promise<void>) {
  const calls: number[] = [];
  let released = 0;
  const scorer: Scorer = {
    spec: { features: ['a', 'b'], inputName: 'input', outputs: { score: 's' } },
    async score(input: Float32Array, rows: number): Promise<ScoredBatch> {
      calls.push(rows);
      const score = new Float32Array(rows);
      for (let r = 0; r < rows; r++) score[r] = input[r * 2]! + 10 * input[r * 2 + 1]!;
      if (gate !== undefined) await gate();
      return { rows, score, classes: 0 };
    },
    release() {
      released++;
      return Promise.resolve();
    },
  };
  return { scorer, calls, released: () => released };
}

function fakeSink(manual = false) {
  const sends: (readonly OutputMessage[])[] = [];
  const pending: ReturnType<typeof deferred<void>>[] = [];
  const sink: Sink = {
    send(messages) {
      sends.push(messages);
      if (!manual) return Promise.resolve();
      const d = deferred();
      pending.push(d);
      return d.promise;
    },
  };
  return { sink, sends, pending };
}

function msg(offset: number, value: object | string | null, headers?: SourceMessage['headers']): SourceMessage {
  return {
    key: Buffer.from(`key-${offset}`),
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
  let live: LiveModel | undefined = { name: 'demo', version: '1', scorer: model.scorer };
  const manager = { current: () => live };
  const sink = fakeSink(sinkManual);
  const pipeline = new ScoringPipeline(manager, jsonDecoder, jsonPredictionEncoder, sink.sink, { ...OPTIONS, ...options }, observer);
  return {
    pipeline,
    model,
    sink,
    setLive: (next: LiveModel | undefined) => {
      live = next;
    },
  };
}

const scoreOf = (o: OutputMessage) => (JSON.parse(String(o.value)) as { score: number }).score;

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
    const { pipeline, sink } = setup({}, observer);
    await pipeline.process(batchOf([]));
    expect(sink.sends).toHaveLength(0);
    expect(observer.batchReceived).not.toHaveBeenCalled();
  });

  it('rejects (nothing sent) when the decoder cannot prepare, e.g. the schema registry is down', async () => {
    const model = fakeScorer();
    const sink = fakeSink();
    const decoder: EventDecoder = {
      prepare: () => Promise.reject(new TransientError('SCHEMA_REGISTRY_UNAVAILABLE', 'down')),
      decode: jsonDecoder.decode,
    };
    const live: LiveModel = { name: 'demo', version: '1', scorer: model.scorer };
    const pipeline = new ScoringPipeline({ current: () => live }, decoder, jsonPredictionEncoder, sink.sink, OPTIONS);
    await expect(pipeline.process(batchOf(goodMessages(0, 1)))).rejects.toBeInstanceOf(TransientError);
    expect(sink.sends).toHaveLength(0);
    expect(model.calls).toHaveLength(0);
  });

  it('refuses to process before a model is loaded', async () => {
    const { pipeline, setLive } = setup();
    setLive(undefined);
    await expect(pipeline.process(batchOf(goodMessages(0, 1)))).rejects.toThrow(/before a model was loaded/);
  });

  it('reads the features from featuresField when set', async () => {
    const { pipeline, sink } = setup({ featuresField: 'features' });
    await pipeline.process(batchOf([msg(0, { id: 'x', features: { a: 2, b: 3 } }), msg(1, { a: 2, b: 3 })]));
    const out = sink.sends[0]!;
    expect(scoreOf(out[0]!)).toBe(32);
    expect(out[1]!.headers[HEADERS.dlqReason]).toBe('decode-error');
  });

  it('uses the new model from the next batch and releases the old scorer once, after its last batch', async () => {
    const gate = deferred();
    const { pipeline, sink, setLive, model: oldModel } = setup();
    // Make the old model's first call wait so a batch is still in flight during the swap.
    const slowOld = fakeScorer(() => gate.promise);
    setLive({ name: 'demo', version: '1', scorer: slowOld.scorer });
    const first = pipeline.process(batchOf(goodMessages(0, 2)));
    await vi.waitFor(() => expect(slowOld.calls).toEqual([2]));

    const newModel = fakeScorer();
    const v2: LiveModel = { name: 'demo', version: '2', scorer: newModel.scorer };
    setLive(v2);
    await pipeline.process(batchOf(goodMessages(10, 1)));
    expect(newModel.calls).toEqual([1]);
    expect(sink.sends[0]!.map((o) => o.headers[HEADERS.version])).toEqual(['2']);
    expect(pipeline.currentModel()).toBe(v2);
    expect(slowOld.released()).toBe(0); // its batch is still being scored

    gate.resolve();
    await first;
    expect(sink.sends[1]!.map((o) => o.headers[HEADERS.version])).toEqual(['1', '1']);
    await vi.waitFor(() => expect(slowOld.released()).toBe(1));

    await pipeline.process(batchOf(goodMessages(20, 1)));
    await new Promise((r) => setTimeout(r, 10));
    expect(slowOld.released()).toBe(1);
    expect(newModel.released()).toBe(0);
    expect(oldModel.released()).toBe(0); // never used: the swap happened before the first batch
  });

  it('releases an idle old scorer when the next batch swaps to the new model', async () => {
    const { pipeline, setLive, model } = setup();
    await pipeline.process(batchOf(goodMessages(0, 1)));
    setLive({ name: 'demo', version: '2', scorer: fakeScorer().scorer });
    expect(model.released()).toBe(0);
    await pipeline.process(batchOf(goodMessages(1, 1)));
    await vi.waitFor(() => expect(model.released()).toBe(1));
  });

  it('reports to the observer with the right counts, publishing only after the sink resolved', async () => {
    const observer = {
      batchReceived: vi.fn(),
      batchScored: vi.fn(),
      predictionsPublished: vi.fn(),
      deadLettered: vi.fn(),
    };
    const { pipeline, sink } = setup({ maxBatchSize: 2 }, observer, true);
    const messages = [...goodMessages(0, 3), msg(3, 'bad'), msg(4, { a: 1 })];
    const done = pipeline.process(batchOf(messages));
    await vi.waitFor(() => expect(sink.pending).toHaveLength(1));

    expect(observer.batchReceived).toHaveBeenCalledExactlyOnceWith('features', 3, 5);
    expect(observer.batchScored.mock.calls.map((c) => [c[0], c[2], c[3]])).toEqual([
      [2, 'demo', '1'],
      [1, 'demo', '1'],
    ]);
    expect(observer.batchScored.mock.calls.every((c) => typeof c[1] === 'number' && c[1] >= 0)).toBe(true);
    expect(observer.predictionsPublished).not.toHaveBeenCalled();
    expect(observer.deadLettered).not.toHaveBeenCalled();

    sink.pending[0]!.resolve();
    await done;
    expect(observer.predictionsPublished).toHaveBeenCalledExactlyOnceWith(3, 1_700_000_000_000);
    expect(observer.deadLettered.mock.calls).toEqual([
      ['decode-error', 1],
      ['missing-feature', 1],
    ]);
  });
});
