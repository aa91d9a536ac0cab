import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { eventually, runCli } from '../support/child.js';
import { cleanupAfterEach, killAtCleanup } from '../support/cleanup.js';
import { envFor, produceEvents, testConfig } from '../support/harness.js';
import { startService } from '../support/service.js';
import { backfillTopics, coordinates, count, dropKeys, dropTopics, readExactly, register } from '../replay/helpers.js';
import { scheduleParts } from './helpers.js';

const cleanups = cleanupAfterEach();

describe('a replica killed in the middle of a scheduled run', () => {
  it('leaves the run to another replica, which takes it over and completes it: every event once', async () => {
    const config = testConfig({ scheduleTickMs: 200 });
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    const model = logistic(16, 7);
    await register(config, model);
    const N = 30_000;
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: model.features, badEvery: 1000 });
    const parts = scheduleParts(config, { now: Date.now, set: () => undefined }, cleanups);
    const id = `killed-${config.redisKeyPrefix.slice(2, -1)}`;
    // Yearly, far off: it runs when asked.
    await parts.schedules.create({ id, cron: '0 0 1 1 *', range: { kind: 'since-previous-run' }, replay: { tuning: { threads: 1, unitSize: 5000 } } }, 'tester');

    // Replica one, a real `kscore serve`, claims the run asked for and is killed while it writes.
    const env = { ...envFor(config), KSCORE_HTTP_PORT: '0', KSCORE_LOG_LEVEL: 'warn' };
    const one = killAtCleanup(cleanups, runCli(['serve'], env));
    const { firingAt, jobId } = await parts.schedules.runNow(id, 'tester');
    const out = backfillTopics(config);
    await eventually(async () => ((await count(config, out.predictions).catch(() => 0)) >= 3000 ? true : undefined), 120_000, 'replica one to write');
    one.proc.kill('SIGKILL');
    await one.exited;
    const firing = Date.parse(firingAt);
    const orphan = (await parts.store.run(id, firing))!;
    expect(orphan).toMatchObject({ state: 'running', jobId, attempts: 1 });

    // Replica two takes the run over once the dead one's leases expire, and resumes the same job.
    await startService(config, cleanups);
    const done = await eventually(async () => {
      const r = await parts.store.run(id, firing);
      return r?.state === 'succeeded' ? r : undefined;
    }, 120_000, 'replica two to finish the run');
    expect(done.runBy).not.toBe(orphan.claimedBy);
    expect(done.claimedBy).toBe(orphan.claimedBy);
    expect(done.attempts).toBe(2);
    expect(done.counts).toMatchObject({ offsets: N });
    expect((await parts.store.get(id))!.state.active).toBeUndefined();

    const got = await readExactly(config, [out.predictions, out.deadLetters], N);
    expect(new Set(got.map(coordinates)).size).toBe(N);
    expect(got.filter((g) => g.topic === out.deadLetters)).toHaveLength(N / 1000);
  });
});
