import { describe, expect, it, vi } from 'vitest';
import { jsonDecoder } from '../../src/codec/json.js';
import type { EventDecoder } from '../../src/codec/types.js';
import { ScoringPipeline } from '../../src/pipeline/pipeline.js';
import { buildRouter, type RouteSpec } from '../../src/pipeline/router.js';
import type { BatchOutcomes, DeadLetterOutcome, Destinations, RecordOutcome, ScoredOutcome, Sink, SourceMessage } from '../../src/pipeline/types.js';
import type { OutgoingRecord, Producer } from '../../src/kafka/index.js';
import { jsonPredictionEncoder } from '../../src/codec/json.js';
import { KafkaSink } from '../../src/producer/kafka-sink.js';
import { HEADERS } from '../../src/producer/provenance.js';
import type { ModelProvider, ServingPlan } from '../../src/scoring/model-manager.js';
import type { LiveModel, ScoredBatch, Scorer } from '../../src/scoring/types.js';

// A pipeline over a routing table: each event is scored by the model its topic, header or field
// names, with that model's current plan, and its outcome names that route's topics.

/** A model over features ['a'] scoring `a * factor`. */
function live(name: string, version: string, factor: number): LiveModel {
  const scorer: Scorer = {
    spec: { features: ['a'], inputName: 'input', inputShape: ['N', 1], outputs: { score: 's' } },
    score(input: Float32Array, rows: number): Promise<ScoredBatch> {
      const score = new Float32Array(rows);
      for (let r = 0; r < rows; r++) score[r] = input[r]! * factor;
      return Promise.resolve({ rows, score, classes: 0 });
    },
    run: () => Promise.reject(new Error('not used')),
    release: () => Promise.resolve(),
  };
  return { name, version, scorer };
}

/** A provider whose plan the test switches, like a model manager on a promotion. */
function switchable(model: LiveModel): { provider: ModelProvider; serve(m: LiveModel): void } {
  let plan: ServingPlan = { primary: model };
  return { provider: { acquire: () => plan, release: () => undefined }, serve: (m) => (plan = { primary: m }) };
}

function to(model: string): Destinations {
  return { predictionsTopic: `${model}.predictions`, deadLetterTopic: `${model}.dlq` };
}

function recordingSink(): { sink: Sink; batches: BatchOutcomes[] } {
  const batches: BatchOutcomes[] = [];
  return { sink: { send: (b) => (batches.push(b), Promise.resolve()) }, batches };
}

function msg(offset: number, value: object, headers?: SourceMessage['headers']): SourceMessage {
  return { key: null, value: Buffer.from(JSON.stringify(value)), offset: String(offset), timestamp: '1700000000000', ...(headers === undefined ? {} : { headers }) };
}

const scored = (o: RecordOutcome | undefined): ScoredOutcome => {
  if (o?.kind !== 'scored') throw new Error(`not scored: ${JSON.stringify(o)}`);
  return o;
};
const dead = (o: RecordOutcome | undefined): DeadLetterOutcome => {
  if (o?.kind !== 'dead-letter') throw new Error('not a dead letter');
  return o;
};

function setup(decoder: EventDecoder = jsonDecoder) {
  const fraud = switchable(live('fraud', '1', 1));
  const churn = switchable(live('churn', '1', 10));
  const spam = switchable(live('spam', '1', 100));
  const specs: RouteSpec[] = [
    { topic: 'payments', provider: fraud.provider, to: to('fraud') },
    { topic: 'mixed', match: { by: 'header', name: 'kind', value: 'churn' }, provider: churn.provider, to: to('churn') },
    { topic: 'mixed', match: { by: 'header', name: 'kind', value: 'spam' }, provider: spam.provider, to: to('spam') },
    { topic: 'by-field', match: { by: 'field', name: 'team', value: 'fraud' }, provider: fraud.provider, to: to('fraud') },
    { topic: 'by-field', match: { by: 'field', name: 'team', value: '7' }, provider: churn.provider, to: to('churn') },
  ];
  const router = buildRouter(specs, (topic) => ({ predictionsTopic: `${topic}.unrouted`, deadLetterTopic: `${topic}.dlq` }));
  const { sink, batches } = recordingSink();
  const pipeline = new ScoringPipeline(router, decoder, sink, { maxBatchSize: 100, maxWaitMs: 10_000 });
  return { pipeline, batches, fraud, churn, spam };
}

describe('ScoringPipeline over a routing table', () => {
  it('scores a header-split batch by the model each header names, in offset order, each outcome with its route topics', async () => {
    const { pipeline, batches } = setup();
    const messages = [
      msg(0, { a: 1 }, { kind: Buffer.from('spam') }),
      msg(1, { a: 2 }, { kind: 'churn' }),
      msg(2, { a: 3 }, { kind: Buffer.from('other') }),
      msg(3, { a: 4 }),
      msg(4, { b: 5 }, { kind: Buffer.from('churn') }),
      msg(5, { a: 6 }, { kind: Buffer.from('spam') }),
    ];
    const counts = await pipeline.process({ topic: 'mixed', partition: 1, messages });
    expect(counts).toEqual({ predictions: 3, deadLetters: 3 });
    const [out] = batches.map((b) => b.outcomes);
    expect(out!.map((o) => o.source.offset)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect([0, 1, 5].map((i) => [scored(out![i]).prediction.model, scored(out![i]).prediction.score, scored(out![i]).to])).toEqual([
      ['spam', 100, to('spam')],
      ['churn', 20, to('churn')],
      ['spam', 600, to('spam')],
    ]);
    expect(dead(out![2])).toMatchObject({ reason: 'no-route', detail: 'header kind is "other"; routes take churn, spam', to: { deadLetterTopic: 'mixed.dlq' } });
    expect(dead(out![3])).toMatchObject({ reason: 'no-route', detail: 'no header kind; routes take churn, spam' });
    // A routed event its model cannot score goes to that model's dead-letter topic, naming it.
    expect(dead(out![4])).toMatchObject({ reason: 'missing-feature', model: 'churn', version: '1', to: to('churn') });
  });

  it('routes by a field, decoding each event once, and a whole topic to one model', async () => {
    let decodes = 0;
    const counting: EventDecoder = { prepare: () => Promise.resolve(), decode: (v) => (decodes++, jsonDecoder.decode(v)) };
    const { pipeline, batches } = setup(counting);
    await pipeline.process({ topic: 'by-field', partition: 0, messages: [msg(0, { team: 7, a: 1 }), msg(1, { team: 'fraud', a: 2 }), msg(2, { team: 'x', a: 3 })] });
    expect(decodes).toBe(3);
    const out = batches[0]!.outcomes;
    expect(scored(out[0]).prediction).toMatchObject({ model: 'churn', score: 10 });
    expect(scored(out[1]).prediction).toMatchObject({ model: 'fraud', score: 2 });
    expect(dead(out[2])).toMatchObject({ reason: 'no-route', detail: 'field team is "x"; routes take fraud, 7' });

    await pipeline.process({ topic: 'payments', partition: 0, messages: [msg(0, { a: 5 }, { kind: 'spam' })] });
    expect(scored(batches[1]!.outcomes[0]).prediction).toMatchObject({ model: 'fraud', score: 5 });
    expect(scored(batches[1]!.outcomes[0]).to).toEqual(to('fraud'));
  });

  it("promotes one model without touching the others: each batch is scored by its route's plan at the time", async () => {
    const { pipeline, batches, churn } = setup();
    const both = () => [msg(0, { a: 1 }, { kind: 'churn' }), msg(1, { a: 1 }, { kind: 'spam' })];
    await pipeline.process({ topic: 'mixed', partition: 0, messages: both() });
    churn.serve(live('churn', '2', 1000));
    await pipeline.process({ topic: 'mixed', partition: 0, messages: both() });
    const versions = batches.map((b) => b.outcomes.map((o) => `${scored(o).prediction.model}@${scored(o).prediction.version}=${scored(o).prediction.score}`));
    expect(versions).toEqual([
      ['churn@1=10', 'spam@1=100'],
      ['churn@2=1000', 'spam@1=100'],
    ]);
  });

  it('refuses a batch of a topic no route reads, and a table whose split topic mixes keys', async () => {
    const { pipeline } = setup();
    await expect(pipeline.process({ topic: 'elsewhere', partition: 0, messages: [msg(0, { a: 1 })] })).rejects.toThrow(/topic elsewhere, which no route reads/);
    const p = switchable(live('m', '1', 1)).provider;
    expect(() =>
      buildRouter(
        [
          { topic: 't', match: { by: 'header', name: 'k', value: 'a' }, provider: p },
          { topic: 't', match: { by: 'field', name: 'k', value: 'b' }, provider: p },
        ],
        () => to('t'),
      ),
    ).toThrow(/same header k/);
  });

  it("has the Kafka sink write each outcome to its route's predictions, shadow or dead-letter topic", async () => {
    const sent: OutgoingRecord[] = [];
    const producer: Producer = { send: (r) => (sent.push(...r), Promise.resolve()), transaction: () => Promise.reject(new Error('unused')), close: () => Promise.resolve() };
    const sink = new KafkaSink(producer, { predictionsTopic: 'default.predictions', deadLetterTopic: 'default.dlq', shadowTopic: 'default.shadow', encoder: jsonPredictionEncoder });
    const churn = live('churn', '1', 10);
    const spam = live('spam', '1', 100);
    const shadowed: ModelProvider = { acquire: () => ({ primary: spam, shadow: live('spam', '2', 1) }), release: () => undefined };
    const router = buildRouter(
      [
        { topic: 'mixed', match: { by: 'header', name: 'kind', value: 'churn' }, provider: { acquire: () => ({ primary: churn }), release: () => undefined }, to: to('churn') },
        { topic: 'mixed', match: { by: 'header', name: 'kind', value: 'spam' }, provider: shadowed, to: { ...to('spam'), shadowTopic: 'spam.shadow' } },
      ],
      (topic) => ({ predictionsTopic: `${topic}.unrouted`, deadLetterTopic: `${topic}.dlq` }),
    );
    const pipeline = new ScoringPipeline(router, jsonDecoder, sink, { maxBatchSize: 100, maxWaitMs: 10_000 });
    await pipeline.process({
      topic: 'mixed',
      partition: 0,
      messages: [msg(0, { a: 1 }, { kind: 'churn' }), msg(1, { a: 1 }, { kind: 'spam' }), msg(2, { b: 1 }, { kind: 'spam' }), msg(3, { a: 1 }, { kind: 'x' })],
    });
    await vi.waitFor(() => expect(sent).toHaveLength(5));
    expect(sent.map((r) => `${r.topic} ${String(r.headers?.[HEADERS.sourceOffset])}`).sort()).toEqual(['churn.predictions 0', 'mixed.dlq 3', 'spam.dlq 2', 'spam.predictions 1', 'spam.shadow 1']);
    expect([sink.count('churn.predictions'), sink.count('spam.predictions'), sink.count('spam.dlq'), sink.count('mixed.dlq'), sink.count('default.predictions')]).toEqual([1, 1, 1, 1, 0]);
  });
});
