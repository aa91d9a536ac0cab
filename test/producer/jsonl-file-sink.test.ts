import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PredictionRecord } from '../../src/codec/types.js';
import type { SourceMessage } from '../../src/pipeline/types.js';
import { JsonlFileSink, type JsonlRecord } from '../../src/producer/jsonl-file-sink.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('the JSON Lines file sink', () => {
  it('writes one line per prediction and dead letter, with where each event came from, appending', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kscore-jsonl-'));
    const path = join(dir, 'out.jsonl');
    const source = (offset: number, key: string | null): SourceMessage => ({
      key: key === null ? null : Buffer.from(key),
      value: Buffer.from('{}'),
      offset: String(offset),
      timestamp: String(1_700_000_000_000 + offset),
    });
    const prediction = (p: Partial<PredictionRecord>): PredictionRecord => ({ model: 'm', version: '3', score: null, label: null, probabilities: null, ...p });
    const sink = await JsonlFileSink.open(path);
    await sink.send({
      topic: 'features',
      partition: 2,
      outcomes: [
        { kind: 'scored', role: 'primary', source: source(41, 'k1'), prediction: prediction({ score: 0.25 }) },
        { kind: 'dead-letter', source: source(42, null), reason: 'decode-error', detail: 'value is "not" JSON' },
      ],
    });
    await sink.send({ topic: 'features', partition: 2, outcomes: [{ kind: 'scored', role: 'canary', source: source(43, 'k3'), prediction: prediction({ label: '1', probabilities: [0.4, 0.6] }) }] });
    expect(sink.counts).toEqual({ predictions: 2, deadLetters: 1 });
    await sink.close();

    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    const records = lines.map((l) => JSON.parse(l) as JsonlRecord);
    expect(records).toEqual([
      { topic: 'features', partition: 2, offset: 41, timestamp: 1_700_000_000_041, key: 'k1', model: 'm', version: '3', score: 0.25, label: null, probabilities: null },
      { topic: 'features', partition: 2, offset: 42, timestamp: 1_700_000_000_042, key: null, deadLetter: { reason: 'decode-error', detail: 'value is "not" JSON' } },
      { topic: 'features', partition: 2, offset: 43, timestamp: 1_700_000_000_043, key: 'k3', model: 'm', version: '3', score: null, label: '1', probabilities: [0.4, 0.6] },
    ]);
  });
});
