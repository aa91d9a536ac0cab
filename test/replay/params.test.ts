import { describe, expect, it } from 'vitest';
import { parseReplayParams } from '../../src/replay/params.js';
import { ReplayParamsError } from '../../src/replay/range.js';

describe('replay params', () => {
  it('fills the defaults', () => {
    expect(parseReplayParams({})).toEqual({
      source: { deadLetters: false },
      model: {},
      tuning: { maxBatchSize: 4096, fetchBytes: 8 * 1024 * 1024, inFlight: 2, checkpointIntervalMs: 1000, markIntervalMs: 15_000 },
    });
  });

  it('reads offsets as numbers or digit strings and times as ISO-8601 with a zone or epoch ms', () => {
    const p = parseReplayParams({ from: { time: '2026-11-27T10:00:00Z' }, to: { offsets: { '0': '15', '2': 3 } } });
    expect(p.from).toEqual({ time: Date.UTC(2026, 10, 27, 10) });
    expect(p.to).toEqual({ offsets: { '0': 15, '2': 3 } });
    expect(parseReplayParams({ from: { time: '1764237600000' } }).from).toEqual({ time: 1764237600000 });
  });

  it('names what is wrong', () => {
    const msg = (input: unknown): string => {
      try {
        parseReplayParams(input);
        return 'accepted';
      } catch (err) {
        expect(err).toBeInstanceOf(ReplayParamsError);
        return (err as Error).message;
      }
    };
    expect(msg({ from: { time: '2026-11-27' } })).toContain('from.time: "2026-11-27" is not epoch milliseconds or an ISO-8601 time with a zone');
    expect(msg({ from: { offset: -1 } })).toContain('from.offset');
    expect(msg({ from: { foo: 1 } })).toContain('from: Unrecognized key: "foo"');
    expect(msg({ output: { kind: 'file' } })).toContain('output.path');
    expect(msg({ compare: { model: { version: '2' } }, output: { kind: 'topic' } })).toContain('compare mode writes a report');
    expect(msg({ from: { offset: 10 }, to: { offset: 5 } })).toContain('ends before it starts');
    expect(msg({ model: { version: '1', alias: 'production' } })).toContain('a version or an alias, not both');
    expect(msg({ tuning: { threads: 0 } })).toContain('tuning.threads');
    expect(msg({ bogus: true })).toContain('Unrecognized key: "bogus"');
  });
});
