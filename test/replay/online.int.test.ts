import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { ScoringService } from '../../src/service/service.js';
import { eventually } from '../support/child.js';
import { kafkaFor, produceEvents, testConfig, testLog } from '../support/harness.js';
import { count, dropKeys, dropTopics, openJobs, readExactly, register } from './helpers.js';
import { cleanupAfterEach } from '../support/cleanup.js';

const cleanups = cleanupAfterEach();

describe('a replay beside the online service', () => {
  it("leaves the online group's committed offsets and membership untouched, and its own groups gone", async () => {
    const config = testConfig();
    const replayTopic = `${config.predictionsTopic}.replay`;
    cleanups.push(() => dropTopics(config, [replayTopic]), () => dropKeys(config));
    const model = logistic(16, 7);
    await register(config, model);
    const N = 6000;
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: model.features });

    const service = await ScoringService.create(config, testLog);
    cleanups.push(() => service.close());
    await service.start();
    await eventually(async () => ((await count(config, config.predictionsTopic)) >= N ? true : undefined), 60_000, 'the online service to catch up');

    const admin = kafkaFor(config).admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const offsets = async (): Promise<string> =>
      JSON.stringify(await admin.fetchOffsets({ groupId: config.groupId, topics: [config.featuresTopic] }));
    const members = async (): Promise<string[]> =>
      (await admin.describeGroups([config.groupId])).groups[0]!.members.map((m) => m.memberId).sort();
    // The service commits after acknowledgements: wait until every offset is committed.
    const committed = await eventually(async () => {
      const o = JSON.parse(await offsets()) as { partitions: { offset: string }[] }[];
      const total = o[0]!.partitions.reduce((s, p) => s + Number(p.offset), 0);
      return total === N ? JSON.stringify(o) : undefined;
    }, 30_000, 'the online group to commit every offset');
    const before = { offsets: committed, members: await members() };
    expect(before.members).toHaveLength(1);

    const jobs = await openJobs(config, cleanups);
    const id = await jobs.start({ output: { kind: 'topic', topic: replayTopic }, tuning: { threads: 2, unitSize: 1000 } });
    // While it runs, the online group stays as it was.
    await eventually(async () => ((await jobs.get(id))!.progress.doneOffsets > 0 ? true : undefined), 60_000, 'the replay to start');
    expect(await offsets()).toBe(before.offsets);
    const final = (await jobs.wait(id))!;
    expect(final.state).toBe('succeeded');
    await readExactly(config, [replayTopic], N);

    expect(await offsets()).toBe(before.offsets);
    expect(await members()).toEqual(before.members);
    expect((await admin.describeGroups([config.groupId])).groups[0]!.state).toBe('Stable');
    // The online service scored nothing again.
    expect(await count(config, config.predictionsTopic)).toBe(N);
    // The replay's own groups (one per thread, never committed to) were removed.
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    expect(groups.filter((g) => g.startsWith(`kscore-replay-${id}`))).toEqual([]);
  });
});
