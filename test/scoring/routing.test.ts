import { describe, expect, it } from 'vitest';
import { BUCKETS, inShare, keyBucket } from '../../src/scoring/routing.js';

const key = (s: string) => Buffer.from(s);
const keys = (n: number) => Array.from({ length: n }, (_, i) => key(`user-${i}`));

describe('keyBucket', () => {
  it('has 10,000 buckets', () => {
    expect(BUCKETS).toBe(10_000);
  });

  it('is deterministic: the same bytes give the same bucket, as a Buffer or a plain Uint8Array', () => {
    for (const s of ['', 'a', 'user-1', 'user-12345', 'ünïcødé', 'x'.repeat(1000)]) {
      const b = keyBucket(key(s));
      expect(keyBucket(key(s))).toBe(b);
      expect(keyBucket(new Uint8Array(key(s)))).toBe(b);
    }
  });

  it('is an integer within [0, 10000) for every key, and for null', () => {
    for (const k of [...keys(5000), key(''), new Uint8Array([0]), new Uint8Array([255, 255, 255, 255])]) {
      const b = keyBucket(k);
      expect(Number.isInteger(b)).toBe(true);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(BUCKETS);
    }
    expect(keyBucket(null)).toBe(BUCKETS - 1);
  });

  it('spreads keys that differ in one character', () => {
    const lastChar = Array.from({ length: 62 }, (_, i) => keyBucket(key(`user-${'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'[i]}`)));
    const firstChar = Array.from({ length: 26 }, (_, i) => keyBucket(key(`${String.fromCharCode(97 + i)}-session-42`)));
    for (const buckets of [lastChar, firstChar]) {
      expect(new Set(buckets).size).toBeGreaterThanOrEqual(buckets.length - 1);
      // Not clustered: they cover most of the range.
      expect(Math.min(...buckets)).toBeLessThan(BUCKETS * 0.2);
      expect(Math.max(...buckets)).toBeGreaterThan(BUCKETS * 0.8);
    }
    // Consecutive ids fall on both sides of a 50% split.
    const halves = keys(10).map((k) => inShare(k, 0.5));
    expect(halves).toContain(true);
    expect(halves).toContain(false);
  });
});

describe('inShare', () => {
  it('with share 0 takes no key, with share 1 every non-null key', () => {
    for (const k of keys(2000)) {
      expect(inShare(k, 0)).toBe(false);
      expect(inShare(k, 1)).toBe(true);
    }
  });

  it('never takes a null key', () => {
    for (const share of [0, 0.1, 0.5, 0.9999, 1]) expect(inShare(null, share)).toBe(false);
  });

  it.each([0.1, 0.37])('takes about %f of 10,000 distinct keys (within 2 points)', (share) => {
    const taken = keys(10_000).filter((k) => inShare(k, share)).length / 10_000;
    expect(Math.abs(taken - share)).toBeLessThan(0.02);
  });

  it('is monotonic: a key in a share stays in every larger share (growing a canary keeps its users)', () => {
    const all = keys(3000);
    const shares = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1];
    for (const k of all) {
      let was = false;
      for (const s of shares) {
        const now = inShare(k, s);
        if (was) expect(now).toBe(true);
        was = now;
      }
    }
  });

  it('is honoured to 1/10,000: a share takes exactly the keys whose bucket is below share * 10,000', () => {
    for (const k of keys(1000)) {
      const b = keyBucket(k);
      expect(inShare(k, (b + 1) / BUCKETS)).toBe(true);
      expect(inShare(k, b / BUCKETS)).toBe(false);
    }
  });
});
