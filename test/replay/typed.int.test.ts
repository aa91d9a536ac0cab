import { describe, expect, it } from 'vitest';
import { typedClassifier, type TypedEvent } from '../../src/modelgen/typed.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { RedisModelStore, registerModel } from '../../src/registry/index.js';
import { header, redisFor, sendEvents, testConfig } from '../support/harness.js';
import { backfillTopics, dropKeys, dropTopics, keyIndex, openJobs, readExactly } from './helpers.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

describe('replay of a model of typed inputs, against real Kafka and Redis', () => {
  it('scores the whole topic in worker threads like the reference, a bad value dead-lettered with its reason', async () => {
    const config = testConfig();
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    const model = typedClassifier();
    const redis = redisFor(config);
    await registerModel(new RedisModelStore(redis, config.redisKeyPrefix), config.modelName, { bytes: Buffer.from(model.bytes), inputs: model.inputs }, { alias: config.modelAlias });
    await redis.quit();
    const N = 300;
    const events: { key: string; value: Record<string, unknown> }[] = model.events(N, 8).map((value, i) => ({ key: `r${i}`, value: { ...value } }));
    events[5]!.value['country'] = 'xx';
    await sendEvents(config, events);

    const jobs = await openJobs(config, cleanups);
    const id = await jobs.start({ tuning: { threads: 2, unitSize: 100 } });
    const final = (await jobs.wait(id))!;
    expect(final.state).toBe('succeeded');
    expect(final.progress.predictions).toBe(N - 1);
    expect(final.progress.deadLetters).toBe(1);

    const out = backfillTopics(config);
    const got = await readExactly(config, [out.predictions, out.deadLetters], N);
    let maxDiff = 0;
    for (const g of got) {
      const i = keyIndex(g.message.key);
      if (g.topic === out.deadLetters) {
        expect(i).toBe(5);
        expect(header(g.message, HEADERS.dlqReason)).toBe('unknown-category');
        continue;
      }
      const p = JSON.parse(g.message.value!.toString()) as { score: number };
      maxDiff = Math.max(maxDiff, Math.abs(p.score - model.reference(events[i]!.value as unknown as TypedEvent)));
    }
    expect(maxDiff).toBeLessThan(1e-5);
  });
});
