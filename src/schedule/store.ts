import { CLAIM, CREATE, FINISH, RELEASE, RENEW, REQUEST, SET_PAUSED, SKIP, TAKE_OVER, UPDATE } from './scripts.js';
import type { Carry, ScheduleRun, ScheduleState, StoredDefinition, StoredSchedule } from './types.js';

/** The Redis commands the schedule store uses, and nothing else (ioredis implements them). */
export interface ScheduleRedis {
  get(key: string): Promise<string | null>;
  del(...keys: string[]): Promise<number>;
  hgetall(key: string): Promise<Record<string, string>>;
  hget(key: string, field: string): Promise<string | null>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  zrange(key: string, start: number, stop: number): Promise<string[]>;
  zrevrange(key: string, start: number, stop: number): Promise<string[]>;
  zrem(key: string, ...members: string[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

export type ClaimResult = 'ok' | 'gone' | 'busy' | 'paused' | 'taken' | 'leased';

export interface Claim {
  readonly kind: 'cron' | 'manual';
  readonly run: ScheduleRun;
  /** Cron: the cursor as the caller read it, and where it moves. */
  readonly expectedCursor?: number;
  readonly newCursor?: number;
  readonly skipped?: ScheduleRun;
}

/**
 * Schedules in Redis, under the key prefix:
 *   schedules                     ZSET of schedule ids by creation time
 *   schedule:{id}                 the definition (JSON)
 *   schedule:{id}:state           HASH paused, cursor (last cron firing dealt with), active (the
 *                                 firing of the run in progress), carry (JSON: where the next
 *                                 "since previous run" range starts)
 *   schedule:{id}:runs            HASH firing -> run (JSON): the history
 *   schedule:{id}:order           ZSET of the history's firings (newest kept, the rest trimmed)
 *   schedule:{id}:requests        ZSET of firings asked for by run-now
 *   schedule:{id}:lease:{firing}  who runs that firing now (SET NX PX, renewed while it runs)
 */
export class ScheduleStore {
  constructor(
    private readonly redis: ScheduleRedis,
    private readonly prefix = 'kscore:',
    /** A firing's lease lasts this long unless renewed, in ms. */
    private readonly leaseTtlMs = 20_000,
  ) {}

  private key(id: string, suffix = ''): string {
    return `${this.prefix}schedule:${id}${suffix}`;
  }

  private leaseKey(id: string, firing: number): string {
    return this.key(id, `:lease:${firing}`);
  }

  /** False when a schedule with that id exists. */
  async create(def: StoredDefinition, cursor: number): Promise<boolean> {
    const r = await this.redis.eval(CREATE, 3, this.key(def.id), this.key(def.id, ':state'), `${this.prefix}schedules`, def.id, JSON.stringify(def), String(cursor), def.createdAt);
    return r === 1;
  }

  async get(id: string): Promise<StoredSchedule | undefined> {
    const [def, state] = await Promise.all([this.redis.get(this.key(id)), this.redis.hgetall(this.key(id, ':state'))]);
    if (def === null) return undefined;
    return { definition: JSON.parse(def) as StoredDefinition, state: parseState(state) };
  }

  /** Oldest first. */
  async ids(): Promise<string[]> {
    return this.redis.zrange(`${this.prefix}schedules`, 0, -1);
  }

  async list(): Promise<StoredSchedule[]> {
    const all = await Promise.all((await this.ids()).map((id) => this.get(id)));
    return all.filter((s): s is StoredSchedule => s !== undefined);
  }

  /** False when there is no such schedule. */
  async setPaused(id: string, paused: boolean): Promise<boolean> {
    return (await this.redis.eval(SET_PAUSED, 2, this.key(id), this.key(id, ':state'), paused ? '1' : '0')) === 1;
  }

  /** Removes the schedule and its history; a run in progress goes on as a plain replay job. */
  async delete(id: string): Promise<boolean> {
    const n = await this.redis.del(this.key(id), this.key(id, ':state'), this.key(id, ':runs'), this.key(id, ':order'), this.key(id, ':requests'));
    await this.redis.zrem(`${this.prefix}schedules`, id);
    return n > 0;
  }

  async claim(id: string, c: Claim): Promise<ClaimResult> {
    const { run } = c;
    const r = await this.redis.eval(
      CLAIM,
      6,
      this.key(id),
      this.key(id, ':state'),
      this.key(id, ':runs'),
      this.key(id, ':order'),
      this.key(id, ':requests'),
      this.leaseKey(id, run.firing),
      c.kind,
      String(run.firing),
      String(c.expectedCursor ?? ''),
      String(c.newCursor ?? ''),
      run.runBy,
      this.leaseTtlMs,
      JSON.stringify(run),
      c.skipped === undefined ? '' : String(c.skipped.firing),
      c.skipped === undefined ? '' : JSON.stringify(c.skipped),
    );
    return r as ClaimResult;
  }

  /** Moves the cursor past firings that are not run. False when another replica got there first. */
  async skip(id: string, expectedCursor: number, newCursor: number, skipped: ScheduleRun): Promise<boolean> {
    const keys = [this.key(id), this.key(id, ':state'), this.key(id, ':runs'), this.key(id, ':order')];
    return (await this.redis.eval(SKIP, 4, ...keys, String(expectedCursor), String(newCursor), String(skipped.firing), JSON.stringify(skipped))) === 1;
  }

  /** Records the run (the caller must hold its lease, which is renewed); false when it does not. */
  async update(id: string, run: ScheduleRun, owner: string, carry?: Carry): Promise<boolean> {
    const keys = [this.key(id), this.key(id, ':state'), this.key(id, ':runs'), this.leaseKey(id, run.firing)];
    return (await this.redis.eval(UPDATE, 4, ...keys, String(run.firing), owner, this.leaseTtlMs, JSON.stringify(run), carry === undefined ? '' : JSON.stringify(carry))) === 1;
  }

  /** Records the run's end and frees the schedule for its next firing; false without the lease. */
  async finish(id: string, run: ScheduleRun, owner: string, keep: number): Promise<boolean> {
    const keys = [this.key(id), this.key(id, ':state'), this.key(id, ':runs'), this.key(id, ':order'), this.leaseKey(id, run.firing)];
    return (await this.redis.eval(FINISH, 5, ...keys, String(run.firing), owner, JSON.stringify(run), keep)) === 1;
  }

  /** Takes the lease of the run in progress once its holder let it expire. */
  async takeOver(id: string, firing: number, owner: string): Promise<boolean> {
    return (await this.redis.eval(TAKE_OVER, 2, this.key(id, ':state'), this.leaseKey(id, firing), String(firing), owner, this.leaseTtlMs)) === 1;
  }

  async renew(id: string, firing: number, owner: string): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, this.leaseKey(id, firing), owner, this.leaseTtlMs)) === 1;
  }

  async release(id: string, firing: number, owner: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.leaseKey(id, firing), owner);
  }

  /** Asks for a run of `firing`: `queued`, or why not (`gone`, or the state of its run). */
  async request(id: string, firing: number): Promise<string> {
    return String(await this.redis.eval(REQUEST, 3, this.key(id), this.key(id, ':runs'), this.key(id, ':requests'), String(firing)));
  }

  /** Firings asked for by run-now, oldest first. */
  async requests(id: string): Promise<number[]> {
    return (await this.redis.zrange(this.key(id, ':requests'), 0, -1)).map(Number);
  }

  async run(id: string, firing: number): Promise<ScheduleRun | undefined> {
    const s = await this.redis.hget(this.key(id, ':runs'), String(firing));
    return s === null ? undefined : (JSON.parse(s) as ScheduleRun);
  }

  /** The history, newest first. */
  async runs(id: string, limit = 50): Promise<ScheduleRun[]> {
    const firings = await this.redis.zrevrange(this.key(id, ':order'), 0, limit - 1);
    if (firings.length === 0) return [];
    const runs = await this.redis.hmget(this.key(id, ':runs'), ...firings);
    return runs.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as ScheduleRun);
  }
}

function parseState(h: Record<string, string>): ScheduleState {
  return {
    paused: h['paused'] === '1',
    cursor: Number(h['cursor'] ?? 0),
    ...(h['active'] === undefined ? {} : { active: Number(h['active']) }),
    ...(h['carry'] === undefined ? {} : { carry: JSON.parse(h['carry']) as Carry }),
  };
}
