import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { createKafka } from '../kafka/client.js';
import { connectRedis, ModelFileStore, RedisModelStore } from '../registry/index.js';
import { ReplayMetrics } from './metrics.js';
import { parseReplayParams } from './params.js';
import { planReplay, type ReplayModelSource } from './planner.js';
import { ratio } from './progress.js';
import { ReplayParamsError } from './range.js';
import { ReplayRun } from './runner.js';
import { ReplayStore } from './store.js';
import type { ReplayPlan, ReplayProgress, ReplayStatus } from './types.js';

export interface ReplayJobsDeps {
  config: Config;
  log: Logger;
  store: ReplayStore;
  models: ReplayModelSource;
  kafka: Kafka;
  /** Connected. */
  admin: Admin;
  metrics?: ReplayMetrics | undefined;
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
    const redis = options.redis ?? connectRedis(config.redisUrl, log);
    const ownRedis = options.redis === undefined;
    const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId, logger: log });
    const admin = kafka.admin();
    try {
      if (ownRedis) await redis.connect();
      await admin.connect();
    } catch (err) {
      if (ownRedis) redis.disconnect();
      throw err;
    }
    const models = new RedisModelStore(redis, {
      prefix: config.redisKeyPrefix,
      inlineMaxBytes: config.modelInlineMaxBytes,
      fileStore: new ModelFileStore(config.modelStoreDir),
    });
    return new ReplayJobs({
      config,
      log: log.child({ component: 'replay' }),
      store: new ReplayStore(redis, config.redisKeyPrefix),
      models,
      kafka,
      admin,
      metrics: options.register === undefined ? undefined : new ReplayMetrics(options.register),
      closeConnections: async () => {
        await admin.disconnect().catch(() => undefined);
        if (ownRedis) await redis.quit().catch(() => undefined);
      },
    });
  }

  /**
   * Validates and plans a job (the range and the model version are fixed here) and starts it in
   * the background. Returns its id; refuses bad params with a `ReplayParamsError` saying why.
   */
  async start(input: unknown): Promise<string> {
    if (this.closing !== undefined) throw new ReplayParamsError('replay jobs are shutting down');
    const params = parseReplayParams(input);
    const plan = await planReplay(params, { admin: this.deps.admin, models: this.deps.models, config: this.deps.config });
    const id = newJobId();
    const status: ReplayStatus = { id, state: 'pending', params, plan, progress: initialProgress(plan), createdAt: new Date().toISOString(), runs: 0 };
    await this.deps.store.create(status);
    for (const w of plan.warnings) this.deps.log.warn({ job: id }, w);
    this.launch(status, undefined);
    return id;
  }

  /** Starts a job that stopped before its end (killed, failed, cancelled, interrupted) from its checkpoint. */
  async resume(id: string): Promise<void> {
    if (this.closing !== undefined) throw new ReplayParamsError('replay jobs are shutting down');
    if (this.runs.has(id)) throw new ReplayParamsError(`replay ${id} is running already`);
    const status = await this.deps.store.get(id);
    if (status === undefined) throw new ReplayParamsError(`no replay ${id}`);
    if (status.state === 'succeeded') throw new ReplayParamsError(`replay ${id} has finished; start a new one`);
    this.launch(status, await this.deps.store.checkpoint(id));
  }

  /** A job's status: live when it runs here, else as last recorded (a run with no live owner is `interrupted`). */
  async get(id: string): Promise<ReplayStatus | undefined> {
    const run = this.runs.get(id);
    if (run !== undefined) return run.current();
    const stored = await this.deps.store.get(id);
    if (stored === undefined) return undefined;
    if (stored.state === 'running' && !(await this.deps.store.leased(id))) return { ...stored, state: 'interrupted' };
    return stored;
  }

  /** Newest first. */
  async list(limit = 50): Promise<ReplayStatus[]> {
    const ids = await this.deps.store.ids(limit);
    const all = await Promise.all(ids.map((id) => this.get(id)));
    return all.filter((s): s is ReplayStatus => s !== undefined);
  }

  /**
   * Stops a job after the batches in flight; it can be resumed later. A job run by another
   * process is asked to stop (through Redis) and stops within a second or so.
   */
  async cancel(id: string): Promise<ReplayStatus | undefined> {
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
        this.deps.log.error({ job: status.id, err: errorMessage(err) }, 'replay run ended unexpectedly');
      },
    );
  }

  private publish(s: ReplayStatus): void {
    this.deps.metrics?.update(s);
    for (const l of this.listeners) {
      try {
        l(s);
      } catch (err) {
        this.deps.log.warn({ err: errorMessage(err) }, 'replay status listener failed');
      }
    }
  }
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
