/** Buckets per share: a share is honoured to 1/10,000. */
export const BUCKETS = 10_000;

/**
 * The bucket of an event key, 0 to BUCKETS-1, from FNV-1a over the key's bytes: the same key always
 * lands in the same bucket, on every replica and across restarts.
 */
export function keyBucket(key: Uint8Array | null): number {
  if (key === null) return BUCKETS - 1;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key[i]!;
    h = Math.imul(h, 0x01000193);
  }
  // MurmurHash3's finaliser: keys differing only in their last byte spread over all buckets.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % BUCKETS;
}

/** Whether a key belongs to a split taking `share` (0 to 1) of the keys. Null keys never do. */
export function inShare(key: Uint8Array | null, share: number): boolean {
  return key !== null && keyBucket(key) < Math.round(share * BUCKETS);
}
