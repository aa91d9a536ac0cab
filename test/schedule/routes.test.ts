import { describe, expect, it } from 'vitest';
import { parseSchedule, runParams } from '../../src/schedule/params.js';

// With a routing table a scheduled replay that names no source topic reads its model's route
// (as the replay planner will), so a "since the previous run" range carries on from where the
// previous run of that topic ended.

const where = {
  featuresTopic: 'features',
  deadLetterTopic: 'features.dlq',
  outputDir: '/output',
  routeOf: (model: string | undefined) => (model === undefined || model === 'fraud' ? { topic: 'payments', deadLetterTopic: 'fraud.dlq' } : model === 'churn' ? { topic: 'accounts', deadLetterTopic: 'churn.dlq' } : undefined),
};

const schedule = (replay: object) => parseSchedule({ id: 'nightly', cron: '0 2 * * *', range: { kind: 'since-previous-run' }, replay });
const FIRING = Date.UTC(2026, 10, 21, 2);

describe("a scheduled run over a routing table", () => {
  it("carries on from the previous run of its model's source topic", () => {
    const carry = (topic: string) => ({ topic, offsets: { '0': 5 } });
    expect(runParams(schedule({ model: { name: 'churn' } }), FIRING, carry('accounts'), where).range.from).toEqual({ offsets: { '0': 5 } });
    expect(runParams(schedule({}), FIRING, carry('payments'), where).range.from).toEqual({ offsets: { '0': 5 } });
    expect(runParams(schedule({ model: { name: 'churn' }, source: { deadLetters: true } }), FIRING, carry('churn.dlq'), where).range.from).toEqual({ offsets: { '0': 5 } });
    // A model the table does not route, or a topic the template names, is read as named.
    expect(runParams(schedule({ model: { name: 'spam' } }), FIRING, carry('features'), where).range.from).toEqual({ offsets: { '0': 5 } });
    expect(runParams(schedule({ model: { name: 'churn' }, source: { topic: 'other' } }), FIRING, carry('accounts'), where).range.from).toBeUndefined();
  });
});
