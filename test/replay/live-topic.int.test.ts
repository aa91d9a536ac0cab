import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { RedisModelStore } from '../../src/registry/index.js';
import { runCli } from '../support/child.js';
import { cleanupAfterEach, killAtCleanup } from '../support/cleanup.js';
import { envFor, header, produceEvents, redisFor, testConfig } from '../support/harness.js';
import { backfillTopics, count, dropKeys, dropTopics, readExactly, register } from './helpers.js';

const cleanups = cleanupAfterEach();

describe('kscore replay and the live predictions topic', () => {
  it('writes into the backfill topic by default, refuses the live topic by name, and writes into it only with --into-live-topic, audited', async () => {
    const config = testConfig();
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    const model = logistic(4, 5);
    await register(config, model);
    const N = 300;
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: model.features });
    const env = { ...envFor(config), KSCORE_LOG_LEVEL: 'warn' };
    const cli = async (args: string[]): Promise<{ code: number | null; out: string }> => {
      const c = killAtCleanup(cleanups, runCli(['replay', ...args], env));
      const code = await c.exited;
      return { code, out: c.output() };
    };

    const refused = await cli(['--output-topic', config.predictionsTopic, '--json']);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain(`${config.predictionsTopic} is the live predictions topic`);
    expect(refused.out).toContain('--into-live-topic');

    const plain = await cli(['--json']);
    expect(plain.code, plain.out).toBe(0);
    const backfill = await readExactly(config, [backfillTopics(config).predictions], N);
    const plainId = header(backfill[0]!.message, HEADERS.replayJob);
    expect(plainId).toBeTruthy();
    expect(backfill.every((b) => header(b.message, HEADERS.replayJob) === plainId)).toBe(true);
    expect(await count(config, config.predictionsTopic).catch(() => 0)).toBe(0);

    const live = await cli(['--into-live-topic', '--json']);
    expect(live.code, live.out).toBe(0);
    const written = await readExactly(config, [config.predictionsTopic], N);
    const liveId = header(written[0]!.message, HEADERS.replayJob);
    expect(liveId).toBeTruthy();
    expect(liveId).not.toBe(plainId);
    expect(written.every((w) => header(w.message, HEADERS.replayJob) === liveId)).toBe(true);

    const redis = redisFor(config);
    const audit = await new RedisModelStore(redis, config.redisKeyPrefix).audit({ limit: 5 });
    await redis.quit();
    expect(audit.filter((a) => a.action === 'replay-into-live-topic')).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'replay-into-live-topic', job: liveId, model: config.modelName });
    expect(audit[0]!.actor).toMatch(/^cli/);
  });
});
