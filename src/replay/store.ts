import type { ReplayStatus } from './types.js';

/** Where a run may resume reading back its output: every record it wrote since is at or after it. */
export type OutputMarks =
  | { readonly kind: 'topic'; readonly offsets: Readonly<Record<string, Readonly<Record<string, number>>>> }
  | { readonly kind: 'file'; readonly bytes: number }
  | { readonly kind: 'none' };

/**
 * A job's progress as of its last checkpoint: every offset below `next[u]` of unit `u` is in the
 * output (acknowledged). `skip` lists offsets at or above `next` known to be in the output already
 * (found by a resume), so that they are not written twice.
 */
export interface Checkpoint {
  readonly run: number;
  readonly next: readonly number[];
  readonly skip: Readonly<Record<string, readonly (readonly [number, number])[]>>;
  readonly marks: OutputMarks;
  readonly counts: { readonly predictions: number; readonly deadLetters: number; readonly alreadyWritten: number };
  readonly updatedAt: string;
}

/** States after which a job is kept only for the retention time. */
const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);

/** The Redis commands the job store uses, and nothing else (ioredis implements them). */
export interface ReplayRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
  set(key: string, value: string, nx: 'NX'): Promise<unknown>;
  del(...keys: string[]): Promise<number>;
  zadd(key: string, score: number, member: string): Promise<unknown>;
  zrevrange(key: string, start: number, stop: number): Promise<string[]>;
  zrem(key: string, ...members: string[]): Promise<unknown>;
  pexpire(key: string, ms: number): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** SET key owner NX PX ttl, or extend it when the caller already owns it. KEYS: lease. ARGV: owner, ttl. */
const ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

/** Deletes the lease only when the caller owns it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Replay jobs in Redis, under the key prefix:
 *   replay:jobs                  ZSET of job ids by creation time
 *   replay:job:{id}              the job's status (JSON)
 *   replay:job:{id}:checkpoint   its checkpoint (JSON)
 *   replay:job:{id}:lease        who runs it now (expires unless renewed)
 *   replay:job:{id}:cancel       set to ask the process that runs it to stop
 */
export class ReplayStore {
  constructor(
    private readonly redis: ReplayRedis,
    private readonly prefix = 'kscore:',
    /** A finished job's keys expire this long after it ended, in ms. */
    private readonly retentionMs = 7 * 24 * 3600 * 1000,
  ) {}

  private key(id: string, suffix = ''): string {
    return `${this.prefix}replay:job:${id}${suffix}`;
  }

  async create(status: ReplayStatus): Promise<void> {
    await this.redis.set(this.key(status.id), JSON.stringify(status));
    await this.redis.zadd(`${this.prefix}replay:jobs`, Date.parse(status.createdAt), status.id);
  }

  /** Creates the job unless one with its id exists; false when it does. */
  async createIfAbsent(status: ReplayStatus): Promise<boolean> {
    if ((await this.redis.set(this.key(status.id), JSON.stringify(status), 'NX')) === null) return false;
    await this.redis.zadd(`${this.prefix}replay:jobs`, Date.parse(status.createdAt), status.id);
    return true;
  }

  async save(status: ReplayStatus): Promise<void> {
    await this.redis.set(this.key(status.id), JSON.stringify(status));
    if (status.finishedAt !== undefined && FINISHED.has(status.state)) {
      await Promise.all([this.redis.pexpire(this.key(status.id), this.retentionMs), this.redis.pexpire(this.key(status.id, ':checkpoint'), this.retentionMs)]);
    }
  }

  /** Forgets ids whose job expired. */
  async forget(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.zrem(`${this.prefix}replay:jobs`, ...ids);
  }

  async get(id: string): Promise<ReplayStatus | undefined> {
    const s = await this.redis.get(this.key(id));
    return s === null ? undefined : (JSON.parse(s) as ReplayStatus);
  }

  /** Newest first. */
  async ids(limit = 100): Promise<string[]> {
    return this.redis.zrevrange(`${this.prefix}replay:jobs`, 0, limit - 1);
  }

  async checkpoint(id: string): Promise<Checkpoint | undefined> {
    const s = await this.redis.get(this.key(id, ':checkpoint'));
    return s === null ? undefined : (JSON.parse(s) as Checkpoint);
  }

  async saveCheckpoint(id: string, c: Checkpoint): Promise<void> {
    await this.redis.set(this.key(id, ':checkpoint'), JSON.stringify(c));
  }

  async clearCheckpoint(id: string): Promise<void> {
    await this.redis.del(this.key(id, ':checkpoint'));
  }

  /** Takes or renews the job's lease; false when another owner holds it. */
  async lease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(ACQUIRE, 1, this.key(id, ':lease'), owner, ttlMs)) === 1;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key(id, ':lease'), owner);
  }

  async leased(id: string): Promise<boolean> {
    return (await this.redis.get(this.key(id, ':lease'))) !== null;
  }

  async requestCancel(id: string): Promise<void> {
    await this.redis.set(this.key(id, ':cancel'), '1');
  }

  async cancelRequested(id: string): Promise<boolean> {
    return (await this.redis.get(this.key(id, ':cancel'))) !== null;
  }

  async clearCancel(id: string): Promise<void> {
    await this.redis.del(this.key(id, ':cancel'));
  }
}
