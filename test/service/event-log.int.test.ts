import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { syntheticFeatures } from '../../src/producer/load-generator.js';
import { ScoringService } from '../../src/service/service.js';
import { cleanupAfterEach } from '../support/cleanup.js';
import { collect, deleteTopics, header, sendEvents, testConfig } from '../support/harness.js';
import { register } from '../support/service.js';

const cleanups = cleanupAfterEach();

type Line = Record<string, unknown>;

/** A real pino logger at `level` whose JSON lines the test reads back. */
function capturingLog(level: string): { log: pino.Logger; lines: () => Line[] } {
  const chunks: string[] = [];
  const log = pino({ level }, { write: (s: string) => chunks.push(s) });
  return { log, lines: () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line) };
}

describe('the event log, against real Kafka and Redis', () => {
  it('writes one line per event, with topic, partition, offset, model and version: dead letters at warn, predictions at debug', async () => {
    const config = testConfig();
    const model = logistic(4, 2);
    await register(config, model, config.modelAlias);
    const { log, lines } = capturingLog('debug');
    const service = await ScoringService.create(config, log);
    cleanups.push(async () => {
      await service.close();
      await deleteTopics(config);
    });
    await service.start();

    const good = [0, 1, 2].map((i) => ({ key: `g${i}`, value: syntheticFeatures(i, model.features, 1) }));
    const { [model.features[0]!]: _dropped, ...missing } = syntheticFeatures(9, model.features, 1);
    await sendEvents(config, [...good, { key: 'bad', value: missing }]);
    const got = await collect(config, [config.predictionsTopic, config.deadLetterTopic], (all) => all.length >= 4);
    const coordinates = (key: string): { partition: number; offset: string } => {
      const m = got.find((g) => g.message.key?.toString() === key)!.message;
      return { partition: Number(header(m, HEADERS.sourcePartition)), offset: header(m, HEADERS.sourceOffset)! };
    };

    const events = (): Line[] => lines().filter((l) => l['component'] === 'events');
    await vi.waitFor(() => expect(events().length).toBe(4), { timeout: 30_000, interval: 50 });
    const dead = events().filter((l) => l['msg'] === 'event dead-lettered');
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({
      level: 40,
      topic: config.featuresTopic,
      ...coordinates('bad'),
      model: config.modelName,
      version: '1',
      reason: 'missing-feature',
    });
    expect(String(dead[0]!['detail'])).toContain(model.features[0]!);
    const scored = events().filter((l) => l['msg'] === 'event scored');
    expect(scored).toHaveLength(3);
    for (const g of good) {
      expect(scored).toContainEqual(expect.objectContaining({ level: 20, topic: config.featuresTopic, ...coordinates(g.key), model: config.modelName, version: '1', role: 'primary' }));
    }
  });

  it('writes no line for a scored event at info level, and still one per dead letter', async () => {
    const config = testConfig();
    const model = logistic(4, 3);
    await register(config, model, config.modelAlias);
    const { log, lines } = capturingLog('info');
    const service = await ScoringService.create(config, log);
    cleanups.push(async () => {
      await service.close();
      await deleteTopics(config);
    });
    await service.start();
    await sendEvents(config, [
      { key: 'g', value: syntheticFeatures(0, model.features, 1) },
      { key: 'bad', value: { ...syntheticFeatures(1, model.features, 1), [model.features[1]!]: 'high' } },
    ]);
    await collect(config, [config.predictionsTopic, config.deadLetterTopic], (all) => all.length >= 2);
    const events = (): Line[] => lines().filter((l) => l['component'] === 'events');
    await vi.waitFor(() => expect(events().length).toBeGreaterThan(0), { timeout: 30_000, interval: 50 });
    expect(events()).toEqual([expect.objectContaining({ msg: 'event dead-lettered', reason: 'non-numeric-feature', model: config.modelName, version: '1', topic: config.featuresTopic })]);
  });
});
