import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/index.js';
import { ServiceError, asError, errorMessage } from '../errors.js';
import { createKafkaClient, kafkaConnection, type Admin, type KafkaClient } from '../kafka/index.js';
import { connectRedis, modelStoreFor, type AuditLog } from '../registry/index.js';
import { ReplayMetrics } from './metrics.js';
import { parseReplayParams } from './params.js';
import { planReplay, type ReplayModelSource } from './planner.js';
import { ratio } from './progress.js';
import { ReplayParamsError } from './range.js';
import { ReplayRun } from './runner.js';
import { ReplayStore } from './store.js';
import { JOB_ID, combineShards, shardJobId, shardPlan, type Shard } from './shards.js';
import type { ReplayParams, ReplayPlan, ReplayProgress, ReplayStatus } from './types.js';

const SHARD_OF = /\.shard-\d+-of-\d+$/;

export interface ReplayJobsDeps {
  config: Config;
  log: Logger;
  store: ReplayStore;
  models: ReplayModelSource;
  kafka: KafkaClient;
  /** Connected. */
  admin: Admin;
  metrics?: ReplayMetrics | undefined;
  /** Where a job that writes into the live predictions topic is recorded (none: such jobs are refused). */
  audit?: AuditLog | undefined;
  /** Run when the jobs close (connections `create` opened). */
  closeConnections?: () => Promise<void>;
}

/**
 * Replay jobs: start, follow, cancel and resume them. Jobs live in Redis, so `get` and `list`
 * show jobs run by any process; a job runs in the process that started (or resumed) it, in
 * worker threads, and survives that process only as a checkpoint to resume from. Params and
 * statuses are plain JSON (see types.ts), ready for an HTTP API.
 */
export class ReplayJobs {
  private readonly runs = new Map<string, ReplayRun>();
  private readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly listeners = new Set<(s: ReplayStatus) => void>();
  private closing: Promise<void> | undefined;

  constructor(private readonly deps: ReplayJobsDeps) {}

  /**
   * Opens what the jobs need: Redis (the job store and the model registry) and a Kafka client.
   * `register`: the Prometheus registry to show replay progress in (the service's).
   */
  static async create(config: Config, log: Logger, options: { register?: Registry; redis?: Redis } = {}): Promise<ReplayJobs> {
    const redis = options.redis ?? connectRedis(config, log);
    const ownRedis = options.redis === undefined;
    const kafka = await createKafkaClient(kafkaConnection(config), log);
    let admin: Admin;
    try {
      if (ownRedis) await redis.connect();
      admin = await kafka.admin();
    } catch (err) {
      if (ownRedis) redis.disconnect();
      throw err;
    }
    const models = modelStoreFor(redis, config);
    return new ReplayJobs({
      config,
      log: log.child({ component: 'replay' }),
      store: new ReplayStore(redis, config.redisKeyPrefix, config.replayRetentionMs),
      models,
      kafka,
      admin,
      audit: models,
      metrics: options.register === undefined ? undefined : new ReplayMetrics(options.register),
      closeConnections: async () => {
        await admin.close().catch(() => undefined);
        if (ownRedis) await redis.quit().catch(() => undefined);
      },
    });
  }

  /**
   * Validates and plans a job (the range and the model version are fixed here) and starts it in
   * the background. Returns its id; refuses bad params with a `ReplayParamsError` saying why.
   */
  async start(input: unknown, options: StartOptions = {}): Promise<string> {
    if (this.closing !== undefined) throw new ReplayParamsError('replay jobs are shutting down');
    this.checkRoom();
    const params = parseReplayParams(input);
    const id = options.id ?? newJobId();
    if (!JOB_ID.test(id)) throw new ReplayParamsError(`job id "${id}" may hold only letters, digits, ".", "_" and "-"`);
    const plan = await this.plan(params, 1);
    if (options.allowTopic !== undefined) checkTopics(plan, options.allowTopic);
    this.checkAuditable(plan);
    const status: ReplayStatus = { id, state: 'pending', params, plan, progress: initialProgress(plan), createdAt: new Date().toISOString(), runs: 0 };
    if (!(await this.deps.store.createIfAbsent(status))) throw new ReplayParamsError(`replay ${id} exists already (resume it with its id)`);
    await this.recordLive(status, options.actor);
    for (const w of plan.warnings) this.deps.log.warn({ job: id }, w);
    this.launch(status, undefined);
    return id;
  }

  private checkAuditable(plan: ReplayPlan): void {
    if (plan.output.kind === 'topic' && plan.output.live === true && this.deps.audit === undefined) {
      throw new ReplayParamsError('a replay into the live predictions topic must be recorded in the audit log, and there is none here');
    }
  }

  /**
   * A job that writes into the live predictions topic is recorded in the audit log before it runs;
   * when that cannot be done, the job fails without writing anything.
   */
  private async recordLive(status: ReplayStatus, actor: string | undefined): Promise<void> {
    const plan = status.plan!;
    if (plan.output.kind !== 'topic' || plan.output.live !== true) return;
    const ranges = plan.ranges.map((r) => `${r.partition}:[${r.start},${r.end})`).join(' ');
    try {
      await this.deps.audit!.record({
        actor: actor ?? 'unknown',
        action: 'replay-into-live-topic',
        model: plan.model.name,
        version: plan.model.version,
        job: status.id,
        detail: `replay ${status.id} writes ${plan.offsets} offsets of ${plan.sourceTopic} (${ranges}) into the live topic ${plan.output.topic}`,
      });
    } catch (err) {
      await this.deps.store.save({ ...status, state: 'failed', error: `not started: ${errorMessage(err)}`, finishedAt: new Date().toISOString() }).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Runs shard `shard.index` of `shard.count` of job `jobId` here (see shards.ts): the first
   * shard to come plans the job, every shard runs its part as a job of its own, and a shard that
   * ran before resumes from its checkpoint (nothing when it finished). Returns the shard's job id.
   */
  async startShard(jobId: string, shard: Shard, input: unknown, options: { actor?: string } = {}): Promise<string> {
    if (this.closing !== undefined) throw new ReplayParamsError('replay jobs are shutting down');
    if (!JOB_ID.test(jobId)) throw new ReplayParamsError(`job id "${jobId}" may hold only letters, digits, ".", "_" and "-"`);
    const params = parseReplayParams(input);
    if (params.compare !== undefined) throw new ReplayParamsError('compare mode runs as one job: leave out --shard');
    const { store } = this.deps;
    let parent = await store.get(jobId);
    if (parent === undefined) {
      const plan = await this.plan(params, shard.count);
      this.checkAuditable(plan);
      const candidate: ReplayStatus = { id: jobId, state: 'pending', params, plan, progress: initialProgress(plan), createdAt: new Date().toISOString(), runs: 0, shards: shard.count };
      if (await store.createIfAbsent(candidate)) {
        await this.recordLive(candidate, options.actor);
        parent = candidate;
      } else {
        parent = await store.get(jobId);
      }
    }
    if (parent?.plan === undefined) throw new ReplayParamsError(`replay ${jobId} has no plan`);
    if (parent.shards !== shard.count) throw new ReplayParamsError(`replay ${jobId} has ${parent.shards ?? 1} shard(s), not ${shard.count}`);
    if (JSON.stringify(parent.params) !== JSON.stringify(params)) throw new ReplayParamsError(`replay ${jobId} exists with other parameters`);
    const id = shardJobId(jobId, shard);
    const existing = await store.get(id);
    if (existing === undefined) {
      const plan = shardPlan(parent.plan, shard);
      const status: ReplayStatus = { id, state: 'pending', params, plan, progress: initialProgress(plan), createdAt: new Date().toISOString(), runs: 0, shardOf: { job: jobId, ...shard } };
      if (await store.createIfAbsent(status)) {
        this.launch(status, undefined);
        return id;
      }
    }
    if (existing?.state !== 'succeeded') await this.resume(id);
    return id;
  }

  /** Refuses a job beyond the ones that may run at once here (KSCORE_REPLAY_MAX_JOBS). */
  private checkRoom(): void {
    const max = this.deps.config.replayMaxJobs;
    if (this.runs.size >= max) throw new ReplayLimitError(`${this.runs.size} replay job(s) run here already, the most allowed (KSCORE_REPLAY_MAX_JOBS=${max}); try again when one ends`);
  }

  private plan(params: ReplayParams, shards: number): Promise<ReplayPlan> {
    return planReplay(params, { admin: this.deps.admin, models: this.deps.models, config: this.deps.config }, shards);
  }

  /** Starts a job that stopped before its end (killed, failed, cancelled, interrupted) from its checkpoint. */
  async resume(id: string): Promise<void> {
    if (this.closing !== undefined) throw new ReplayParamsError('replay jobs are shutting down');
    if (this.runs.has(id)) throw new ReplayParamsError(`replay ${id} is running already`);
    const status = await this.deps.store.get(id);
    if (status === undefined) throw new ReplayParamsError(`no replay ${id}`);
    if (status.shards !== undefined) throw new ReplayParamsError(`replay ${id} is sharded: resume each shard (kscore replay --job-id ${id} --shard I/${status.shards} with the same parameters)`);
    this.checkRoom();
    if (status.state === 'succeeded') throw new ReplayParamsError(`replay ${id} has finished; start a new one`);
    this.launch(status, await this.deps.store.checkpoint(id));
  }

  /** A job's status: live when it runs here, else as last recorded (a run with no live owner is `interrupted`). */
  async get(id: string): Promise<ReplayStatus | undefined> {
    const run = this.runs.get(id);
    if (run !== undefined) return run.current();
    const stored = await this.deps.store.get(id);
    if (stored === undefined) return undefined;
    if (stored.shards !== undefined) {
      const count = stored.shards;
      return combineShards(stored, await Promise.all(Array.from({ length: count }, (_, index) => this.get(shardJobId(id, { index, count })))));
    }
    if (stored.state === 'running' && !(await this.deps.store.leased(id))) return { ...stored, state: 'interrupted' };
    return stored;
  }

  /** Newest first; a sharded job once (its shards are in its status). */
  async list(limit = 50): Promise<ReplayStatus[]> {
    const ids = (await this.deps.store.ids(limit)).filter((id) => !SHARD_OF.test(id));
    const all = await Promise.all(ids.map((id) => this.get(id)));
    await this.deps.store.forget(ids.filter((_, i) => all[i] === undefined)).catch(() => undefined);
    return all.filter((s): s is ReplayStatus => s !== undefined);
  }

  /**
   * Stops a job after the batches in flight; it can be resumed later. A job run by another
   * process is asked to stop (through Redis) and stops within a second or so.
   */
  async cancel(id: string): Promise<ReplayStatus | undefined> {
    const stored = await this.deps.store.get(id);
    if (stored?.shards !== undefined) {
      const count = stored.shards;
      await Promise.all(Array.from({ length: count }, (_, index) => this.cancel(shardJobId(id, { index, count }))));
      return this.get(id);
    }
    const run = this.runs.get(id);
    if (run !== undefined) return run.stop('cancelled');
    const status = await this.get(id);
    if (status === undefined) return undefined;
    if (status.state === 'running') {
      await this.deps.store.requestCancel(id);
      return status;
    }
    if (status.state === 'succeeded' || status.state === 'cancelled') return status;
    const cancelled: ReplayStatus = { ...status, state: 'cancelled', finishedAt: new Date().toISOString() };
    await this.deps.store.save(cancelled);
    return cancelled;
  }

  /** Resolves with the job's final status when its run here ends (at once for a job not running here). */
  async wait(id: string): Promise<ReplayStatus | undefined> {
    const run = this.runs.get(id);
    if (run !== undefined) return run.finished;
    return this.get(id);
  }

  /** Every status update of the jobs running here; returns the unsubscribe function. */
  subscribe(listener: (s: ReplayStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops the runs here (they can be resumed: state `interrupted`) and closes the connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.runs.values()].map((r) => r.stop('interrupted').catch(() => undefined)));
      await this.deps.closeConnections?.();
    })();
    return this.closing;
  }

  private launch(status: ReplayStatus, checkpoint: Parameters<typeof ReplayRun.begin>[2]): void {
    const run = ReplayRun.begin(
      {
        config: this.deps.config,
        log: this.deps.log,
        kafka: this.deps.kafka,
        admin: this.deps.admin,
        store: this.deps.store,
        models: this.deps.models,
        owner: this.owner,
        onStatus: (s) => this.publish(s),
      },
      status,
      checkpoint,
    );
    this.runs.set(status.id, run);
    void run.finished.then(
      (s) => {
        this.runs.delete(status.id);
        this.publish(s);
      },
      (err: unknown) => {
        this.runs.delete(status.id);
        this.deps.log.error({ job: status.id, err: asError(err) }, 'replay run ended unexpectedly');
      },
    );
  }

  private publish(s: ReplayStatus): void {
    this.deps.metrics?.update(s);
    for (const l of this.listeners) {
      try {
        l(s);
      } catch (err) {
        this.deps.log.warn({ err: asError(err) }, 'replay status listener failed');
      }
    }
  }
}

export interface StartOptions {
  /** The job's id (default: a new one). */
  id?: string;
  /** Which topics the job may read and write (replays started over HTTP: KSCORE_REPLAY_ALLOWED_TOPICS). */
  allowTopic?: (topic: string) => boolean;
  /** Who starts it, for the audit log (a token's owner, `cli:<user>`, `schedule:<id>`). */
  actor?: string;
}

/** Too many replays run here already: retry later. */
export class ReplayLimitError extends ServiceError {
  constructor(message: string) {
    super('REPLAY_LIMIT', message, { canRetry: true });
  }
}

/** Refuses a plan that reads or writes a topic outside the allowed ones. */
function checkTopics(plan: ReplayPlan, allow: (topic: string) => boolean): void {
  const topics = [plan.sourceTopic, ...(plan.output.kind === 'topic' ? [plan.output.topic, plan.output.deadLetterTopic] : [])];
  const refused = topics.filter((t) => !allow(t));
  if (refused.length > 0) throw new ReplayParamsError(`replays may not use topic${refused.length > 1 ? 's' : ''} ${refused.join(', ')} (KSCORE_REPLAY_ALLOWED_TOPICS)`);
}

/** A topic allow-list: names, or prefixes ending in `*`; empty allows every topic. */
export function topicAllowList(patterns: readonly string[]): (topic: string) => boolean {
  if (patterns.length === 0) return () => true;
  return (topic) => patterns.some((p) => (p.endsWith('*') ? topic.startsWith(p.slice(0, -1)) : topic === p));
}

function newJobId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
  return `${t}-${randomUUID().slice(0, 8)}`;
}

function initialProgress(plan: ReplayPlan): ReplayProgress {
  return {
    plannedOffsets: plan.offsets,
    doneOffsets: 0,
    ratio: ratio(0, plan.offsets),
    predictions: 0,
    deadLetters: 0,
    alreadyWritten: 0,
    ratePerSecond: 0,
    etaSeconds: null,
    updatedAt: new Date().toISOString(),
  };
}
