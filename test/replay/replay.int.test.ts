import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { logistic } from '../../src/modelgen/models.js';
import { HEADERS } from '../../src/producer/provenance.js';
import { LoadGenerator } from '../../src/producer/load-generator.js';
import type { JsonlRecord } from '../../src/producer/jsonl-file-sink.js';
import { RedisModelStore } from '../../src/registry/index.js';
import { header, produceEvents, redisFor, testConfig } from '../support/harness.js';
import { backfillTopics, coordinates, dropKeys, dropTopics, ends, keyIndex, openJobs, produce, readExactly, register, rowsOf } from './helpers.js';
import { cleanupAfterEach } from '../support/cleanup.js';
import { addUnloadableVersion } from '../support/service.js';

const cleanups = cleanupAfterEach();

describe('replay over an exact range, against real Kafka and Redis', () => {
  it('scores exactly [from, to) of the chosen partitions: each record once, predictions or dead letters, none outside', async () => {
    const config = testConfig();
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    const model = logistic(16, 3);
    await register(config, model);
    const N = 3000;
    const badEvery = 25;
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: model.features, badEvery, seed: 4 });
    const high = await ends(config, config.featuresTopic);
    const [end0, end2] = [high.get(0)! - 5, 400];
    expect(end0).toBeGreaterThan(300);
    expect(high.get(2)!).toBeGreaterThan(400);

    const jobs = await openJobs(config, cleanups);
    const id = await jobs.start({
      source: { partitions: [0, 2] },
      from: { offsets: { '0': 10, '2': 37 } },
      to: { offsets: { '0': end0, '2': end2 } },
      // Small units and two threads: several units per partition, run side by side.
      tuning: { threads: 2, unitSize: 150 },
    });
    const final = (await jobs.wait(id))!;
    expect(final.state).toBe('succeeded');
    expect(final.plan!.ranges).toEqual([
      { partition: 0, start: 10, end: end0 },
      { partition: 2, start: 37, end: end2 },
    ]);
    const expected = new Set<string>();
    for (let o = 10; o < end0; o++) expected.add(`0/${o}`);
    for (let o = 37; o < end2; o++) expected.add(`2/${o}`);
    expect(final.progress.doneOffsets).toBe(expected.size);
    expect(final.progress.predictions + final.progress.deadLetters).toBe(expected.size);

    // With no output named, the job writes into the backfill topics, never the live ones.
    const out = backfillTopics(config);
    expect(final.plan!.output).toEqual({ kind: 'topic', topic: out.predictions, deadLetterTopic: out.deadLetters });
    // The output topics hold exactly the range: the counts first, then every record by its coordinates.
    const got = await readExactly(config, [out.predictions, out.deadLetters], expected.size);
    expect(new Set(got.map(coordinates))).toEqual(expected);
    // Every output says which replay wrote it.
    expect(got.every((g) => header(g.message, HEADERS.replayJob) === id)).toBe(true);

    const gen = new LoadGenerator(null as never, null as never, { topic: '', rate: 0, format: 'json', features: model.features, badEvery });
    const scored = got.filter((g) => g.topic === out.predictions);
    const dead = got.filter((g) => g.topic === out.deadLetters);
    expect(dead.length).toBe(final.progress.deadLetters);
    expect(dead.length).toBeGreaterThan(0);
    for (const d of dead) expect(header(d.message, HEADERS.dlqReason)).toBe(gen.badKindOf(keyIndex(d.message.key)));
    const idx = scored.map((s) => keyIndex(s.message.key));
    const reference = model.reference(rowsOf(model, idx, 4), idx.length).score;
    scored.forEach((s, r) => {
      expect(gen.badKindOf(idx[r]!)).toBeUndefined();
      const value = JSON.parse(s.message.value!.toString()) as { score: number; version: string };
      expect(Math.abs(value.score - reference[r]!)).toBeLessThan(1e-6);
      expect(header(s.message, HEADERS.version)).toBe('1');
      expect(header(s.message, HEADERS.sourceTopic)).toBe(config.featuresTopic);
    });
  });

  it('resolves a time range to offsets: from inclusive, to exclusive, at the edges and between records', async () => {
    const config = testConfig();
    const dir = await mkdtemp(join(tmpdir(), 'kscore-replay-'));
    cleanups.push(() => dropTopics(config), () => dropKeys(config), () => rm(dir, { recursive: true, force: true }));
    const model = logistic(4, 1);
    await register(config, model);
    // Partition p, record i: timestamp T0 + i s (+ p ms, so partitions differ).
    const T0 = Date.UTC(2026, 0, 1);
    const messages = [];
    for (let p = 0; p < 3; p++) {
      for (let i = 0; i < 30; i++) {
        messages.push({ partition: p, key: `p${p}-${i}`, timestamp: String(T0 + i * 1000 + p), value: JSON.stringify({ f0: i, f1: p, f2: 1, f3: 2 }) });
      }
    }
    await produce(config, config.featuresTopic, messages);
    const jobs = await openJobs(config, cleanups);

    // Exactly on record timestamps of partition 0: [T0+10 s, T0+20 s) is records 10..19 there; on
    // partitions 1 and 2 (1 and 2 ms later) T0+10 s falls between records 9 and 10, so also 10..19.
    const exact = join(dir, 'exact.jsonl');
    const a = await jobs.start({ from: { time: T0 + 10_000 }, to: { time: new Date(T0 + 20_000).toISOString() }, output: { kind: 'file', path: exact } });
    expect((await jobs.wait(a))!.state).toBe('succeeded');
    const lines = (await readFile(exact, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as JsonlRecord);
    expect(lines).toHaveLength(30);
    const byPartition = (p: number): number[] => lines.filter((l) => l.partition === p).map((l) => l.offset).sort((x, y) => x - y);
    for (let p = 0; p < 3; p++) expect(byPartition(p)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    for (const l of lines) {
      expect(l.timestamp).toBeGreaterThanOrEqual(T0 + 10_000);
      expect(l.timestamp).toBeLessThan(T0 + 20_000 + 3);
      expect(l.key).toBe(`p${l.partition}-${l.offset}`);
    }

    // From partition 1's record 10 (T0+10.001 s, included) to partition 2's record 12 (T0+12.002 s,
    // excluded): partition 0 gets 11 and 12 (its 10 is 1 ms early), partition 1 gets 10, 11 and 12,
    // partition 2 gets 10 and 11.
    const between = join(dir, 'between.jsonl');
    const b = await jobs.start({ from: { time: T0 + 10_001 }, to: { time: T0 + 12_002 }, output: { kind: 'file', path: between } });
    expect((await jobs.wait(b))!.state).toBe('succeeded');
    const got = (await readFile(between, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as JsonlRecord);
    const coords = got.map((l) => `${l.partition}/${l.offset}`).sort();
    expect(coords).toEqual(['0/11', '0/12', '1/10', '1/11', '1/12', '2/10', '2/11']);
  });

  it('pins the version an alias names when the job starts, even if the alias moves meanwhile', async () => {
    const config = testConfig();
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    const v1 = logistic(8, 1);
    await register(config, v1);
    const v2 = await register(config, logistic(8, 2), { alias: 'candidate' });
    await produceEvents(config, { rate: 0, count: 2000, format: 'json', features: v1.features });
    const jobs = await openJobs(config, cleanups);
    const id = await jobs.start({});
    // Promote right after the job was planned: it must keep scoring with version 1.
    const redis = redisFor(config);
    await new RedisModelStore(redis, config.redisKeyPrefix).setAlias(config.modelName, config.modelAlias, v2, 'test');
    await redis.quit();
    const final = (await jobs.wait(id))!;
    expect(final.state).toBe('succeeded');
    expect(final.plan!.model).toEqual({ name: config.modelName, version: '1', resolvedFrom: `alias ${config.modelAlias}` });
    const got = await readExactly(config, [backfillTopics(config).predictions], 2000);
    expect(got.every((g) => header(g.message, HEADERS.version) === '1')).toBe(true);
  });

  it('writes Parquet with the same rows as JSON Lines', async () => {
    const config = testConfig();
    const dir = await mkdtemp(join(tmpdir(), 'kscore-replay-'));
    cleanups.push(() => dropTopics(config), () => dropKeys(config), () => rm(dir, { recursive: true, force: true }));
    const model = logistic(8, 5);
    await register(config, model);
    await produceEvents(config, { rate: 0, count: 1200, format: 'json', features: model.features, badEvery: 40, seed: 2 });
    const jobs = await openJobs(config, cleanups);
    const jsonl = join(dir, 'out.jsonl');
    const parquet = join(dir, 'out.parquet');
    const [a, b] = [await jobs.start({ output: { kind: 'file', path: jsonl } }), await jobs.start({ output: { kind: 'file', path: parquet, format: 'parquet' } })];
    expect((await jobs.wait(a))!.state).toBe('succeeded');
    expect((await jobs.wait(b))!.state).toBe('succeeded');
    // The spool is gone once the Parquet file is complete.
    await expect(stat(`${parquet}.partial.jsonl`)).rejects.toThrow();

    const lines = (await readFile(jsonl, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as JsonlRecord);
    const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(parquet) })) as Record<string, unknown>[];
    expect(rows).toHaveLength(1200);
    expect(lines).toHaveLength(1200);
    const key = (p: number, o: number | bigint): string => `${p}/${o}`;
    const fromJsonl = new Map(lines.map((l) => [key(l.partition, l.offset), l]));
    for (const r of rows) {
      const l = fromJsonl.get(key(r['partition'] as number, r['offset'] as bigint))!;
      expect(l).toBeDefined();
      expect(r['score']).toBe(l.score ?? null);
      expect(r['dead_letter_reason']).toBe(l.deadLetter?.reason ?? null);
      expect((r['timestamp'] as Date).getTime()).toBe(l.timestamp);
      expect(r['key']).toBe(l.key);
    }
    expect(rows.filter((r) => r['dead_letter_reason'] !== null)).toHaveLength(30);
  });

  it('replays the dead-letter topic through the current model once the cause is fixed; still-bad records are dead-lettered again', async () => {
    const config = testConfig();
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    const v1 = logistic(8, 1);
    await register(config, v1);
    const N = 400;
    // Every 10th event is bad; in JSON the kinds cycle: undecodable, f0 missing, f0 a string, f0 not finite.
    await produceEvents(config, { rate: 0, count: N, format: 'json', features: v1.features, badEvery: 10 });
    const jobs = await openJobs(config, cleanups);
    // The first pass scores into the live topics, as the online path would have: asked for, and audited.
    const first = await jobs.start({ output: { kind: 'topic', live: true } }, { actor: 'tester' });
    expect((await jobs.wait(first))!.progress.deadLetters).toBe(40);
    const redis = redisFor(config);
    const audit = await new RedisModelStore(redis, config.redisKeyPrefix).audit({ limit: 5 });
    await redis.quit();
    expect(audit[0]).toMatchObject({ actor: 'tester', action: 'replay-into-live-topic', job: first, model: config.modelName, version: '1' });
    expect(audit[0]!.detail).toContain(`into the live topic ${config.predictionsTopic}`);

    // The fix: a version that does not use f0 (seven features, f1..f7), now in production.
    const fixed = logistic(7, 9);
    const v2 = await register(config, fixed, { features: v1.features.slice(1) });
    const id = await jobs.start({ source: { deadLetters: true } });
    const final = (await jobs.wait(id))!;
    expect(final.state).toBe('succeeded');
    expect(final.plan!.sourceTopic).toBe(config.deadLetterTopic);
    expect(final.plan!.model.version).toBe(v2);
    expect(final.progress).toMatchObject({ doneOffsets: 40, predictions: 30, deadLetters: 10 });

    const out = backfillTopics(config);
    const all = await readExactly(config, [config.predictionsTopic, config.deadLetterTopic, out.predictions, out.deadLetters], N + 40);
    const fromDlq = all.filter((g) => header(g.message, HEADERS.sourceTopic) === config.deadLetterTopic);
    expect(fromDlq).toHaveLength(40);
    // Each dead letter of the first run comes out once: scored by v2, or (undecodable) dead-lettered again.
    expect(new Set(fromDlq.map(coordinates)).size).toBe(40);
    const again = fromDlq.filter((g) => g.topic === out.deadLetters);
    expect(again).toHaveLength(10);
    expect(again.every((g) => header(g.message, HEADERS.dlqReason) === 'decode-error')).toBe(true);
    const rescored = fromDlq.filter((g) => g.topic === out.predictions);
    expect(rescored.every((g) => header(g.message, HEADERS.version) === v2)).toBe(true);
  });

  it('finishes an empty range at once, and fails a job whose model cannot load, saying why', async () => {
    const config = testConfig();
    cleanups.push(() => dropTopics(config), () => dropKeys(config));
    const model = logistic(4, 1);
    await register(config, model);
    await produceEvents(config, { rate: 0, count: 100, format: 'json', features: model.features });
    const jobs = await openJobs(config, cleanups);

    const empty = await jobs.start({ from: { offset: 5 }, to: { offset: 5 } });
    const done = (await jobs.wait(empty))!;
    expect(done.state).toBe('succeeded');
    expect(done.progress).toMatchObject({ plannedOffsets: 0, doneOffsets: 0, ratio: 1 });

    // A version written past validation, as a corrupted store would hold it.
    const bad = await addUnloadableVersion(config, model.features);
    const failing = await jobs.start({ model: { version: bad.version } });
    const failed = (await jobs.wait(failing))!;
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/onnxruntime cannot load the model/);
    expect((await jobs.list()).map((j) => [j.id, j.state])).toEqual([
      [failing, 'failed'],
      [empty, 'succeeded'],
    ]);
    await expect(jobs.start({ model: { version: '99' } })).rejects.toThrow(/has no version 99/);
    // Never silently into the live predictions topic: naming it needs output.live.
    await expect(jobs.start({ output: { kind: 'topic', topic: config.predictionsTopic } })).rejects.toThrow(/is the live predictions topic.*output\.live/);
    await expect(jobs.start({ output: { kind: 'topic', topic: 'elsewhere', live: true } })).rejects.toThrow(/leave output\.topic out/);
    await expect(jobs.start({ source: { partitions: [7] } })).rejects.toThrow(/has no partition 7/);
  });
});
