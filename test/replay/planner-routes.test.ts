import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Admin } from '../../src/kafka/index.js';
import { parseReplayParams } from '../../src/replay/params.js';
import { planReplay, type ReplayModelSource } from '../../src/replay/planner.js';

// A replay names its model; in a service with a routing table its topics and alias default to
// that model's route.

const admin = {
  partitions: () => Promise.resolve([0]),
  watermarks: () => Promise.resolve([{ partition: 0, low: 0, high: 10 }]),
  offsetsForTime: () => Promise.resolve([]),
} as unknown as Admin;

/** A registry where every model has version 3 behind alias `production` and version 9 behind `staging`. */
const models: ReplayModelSource = {
  resolveAlias: (_name, alias) => Promise.resolve(alias === 'production' ? '3' : alias === 'staging' ? '9' : undefined),
  getMeta: () => Promise.resolve(undefined),
  getVersion: () => Promise.resolve(undefined),
};

const ROUTES = JSON.stringify([
  { topic: 'payments', model: 'fraud' },
  { topic: 'accounts', model: 'churn', alias: 'staging', predictionsTopic: 'churn.out' },
]);

const plan = (env: Record<string, string>, params: unknown) => planReplay(parseReplayParams(params), { admin, models, config: loadConfig(env) });

describe('replay over a routing table', () => {
  it("defaults to the named model's route: its source, predictions and dead-letter topics and its alias", async () => {
    const p = await plan({ KSCORE_ROUTES: ROUTES }, { model: { name: 'churn' } });
    // Into the backfill topics of the route's outputs, as a single-model replay writes.
    expect([p.sourceTopic, p.output, p.model]).toEqual(['accounts', { kind: 'topic', topic: 'churn.out.backfill', deadLetterTopic: 'churn.dlq.backfill' }, { name: 'churn', version: '9', resolvedFrom: 'alias staging' }]);
    const dlq = await plan({ KSCORE_ROUTES: ROUTES }, { model: { name: 'fraud' }, source: { deadLetters: true }, output: { kind: 'topic', topic: 'fraud.again' } });
    expect([dlq.sourceTopic, dlq.output]).toEqual(['fraud.dlq', { kind: 'topic', topic: 'fraud.again', deadLetterTopic: 'fraud.dlq.backfill' }]);
    const live = await plan({ KSCORE_ROUTES: ROUTES }, { model: { name: 'churn' }, output: { kind: 'topic', live: true } });
    expect(live.output).toEqual({ kind: 'topic', topic: 'churn.out', deadLetterTopic: 'churn.dlq', live: true });
  });

  it("writes no route's live predictions topic without output.live", async () => {
    await expect(plan({ KSCORE_ROUTES: ROUTES }, { model: { name: 'churn' }, output: { kind: 'topic', topic: 'fraud.predictions' } })).rejects.toThrow('fraud.predictions is the live predictions topic');
    await expect(plan({ KSCORE_ROUTES: ROUTES }, { model: { name: 'churn' }, output: { kind: 'topic', topic: 'fraud.predictions', live: true } })).rejects.toThrow('output.live writes into the live predictions topic churn.out');
    await expect(plan({ KSCORE_ROUTES: ROUTES }, { model: { name: 'spam' }, source: { topic: 'signals' }, output: { kind: 'topic', topic: 'churn.out', deadLetterTopic: 'spam.bad' } })).rejects.toThrow('churn.out is the live predictions topic');
  });

  it("scores the table's first model when the replay names none", async () => {
    const p = await plan({ KSCORE_ROUTES: ROUTES }, {});
    expect([p.sourceTopic, p.model.name, p.model.version]).toEqual(['payments', 'fraud', '3']);
  });

  it('refuses a model the table does not route unless the request names its topics', async () => {
    await expect(plan({ KSCORE_ROUTES: ROUTES }, { model: { name: 'spam' } })).rejects.toThrow('model spam has no route in KSCORE_ROUTES: name the source topic and the output topics of the replay');
    const p = await plan({ KSCORE_ROUTES: ROUTES }, { model: { name: 'spam' }, source: { topic: 'signals' }, output: { kind: 'topic', topic: 'spam.out', deadLetterTopic: 'spam.bad' } });
    expect([p.sourceTopic, p.output, p.model.version]).toEqual(['signals', { kind: 'topic', topic: 'spam.out', deadLetterTopic: 'spam.bad' }, '3']);
  });

  it('keeps the single-model defaults without a table, whichever model a replay names', async () => {
    const env = { KSCORE_FEATURES_TOPIC: 'in', KSCORE_PREDICTIONS_TOPIC: 'out', KSCORE_DEAD_LETTER_TOPIC: 'in.bad', KSCORE_MODEL_NAME: 'churn' };
    const p = await plan(env, { model: { name: 'other' } });
    expect([p.sourceTopic, p.output, p.model.name]).toEqual(['in', { kind: 'topic', topic: 'out.backfill', deadLetterTopic: 'in.bad.backfill' }, 'other']);
  });
});
