import type { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { OnlineConsumer } from '../consumer/online-consumer.js';
import { asError, errorMessage } from '../errors.js';
import type { Readiness } from '../http/server.js';
import type { Admin, KafkaClient } from '../kafka/index.js';
import type { LagMonitor } from '../metrics/lag.js';
import type { ServiceMetrics } from '../metrics/metrics.js';
import type { Stall } from '../metrics/stalls.js';
import type { ScoringPipeline } from '../pipeline/pipeline.js';
import type { KafkaSink } from '../producer/kafka-sink.js';
import type { RedisModelStore } from '../registry/index.js';
import type { ReplayJobs } from '../replay/index.js';
import type { Scheduler } from '../schedule/index.js';
import type { ModelSet } from '../scoring/model-set.js';
import { assemble, type ServiceHooks } from './assemble.js';

export type ServiceState = 'created' | 'running' | 'draining' | 'stopped' | 'failed';

/** Everything the service is made of (assemble.ts builds them from the configuration). */
export interface ServiceParts {
  config: Config;
  log: Logger;
  redis: Redis;
  subscriber: Redis;
  store: RedisModelStore;
  kafka: KafkaClient;
  admin: Admin;
  lag: LagMonitor;
  replays: ReplayJobs;
  /** Starts scheduled runs (absent with KSCORE_SCHEDULE_ENABLED=false). */
  scheduler?: Scheduler | undefined;
  sink: KafkaSink;
  models: ModelSet;
  pipeline: ScoringPipeline;
  consumer: OnlineConsumer;
  http: FastifyInstance;
  metrics: ServiceMetrics;
}

/**
 * The online scoring service. `create` opens every connection and hands them to a constructor that
 * only stores them; `start` serves HTTP, waits for a model and then consumes; `close` is the one
 * ordered shutdown path.
 */
export class ScoringService {
  private state: ServiceState = 'created';
  private closing: Promise<void> | undefined;
  private failure: Error | undefined;
  private onFailed: (err: Error) => void = () => undefined;
  /** Resolves with the error when the service fails (see `fail`). */
  readonly failed: Promise<Error> = new Promise((resolve) => (this.onFailed = resolve));

  private constructor(private readonly deps: ServiceParts) {}

  /** Opens every connection the configuration names and builds the service from them. */
  static async create(config: Config, log: Logger): Promise<ScoringService> {
    let service: ScoringService | undefined;
    const hooks: ServiceHooks = {
      fail: (err) => service?.fail(err),
      readiness: () => service!.readiness(),
      health: () => service!.health(),
    };
    service = ScoringService.fromParts(await assemble(config, log, hooks));
    return service;
  }

  /** A service from parts made elsewhere (a test hands in its own). */
  static fromParts(parts: ServiceParts): ScoringService {
    return new ScoringService(parts);
  }

  get httpServer(): FastifyInstance {
    return this.deps.http;
  }

  /** The model managers (which versions serve), one per model. */
  get models(): ModelSet {
    return this.deps.models;
  }

  /** Serves HTTP at once; consumes as soon as a model is loaded (until then /readyz says why not). */
  async start(): Promise<{ httpUrl: string }> {
    const { config, http, models, consumer, pipeline, log, subscriber, store, lag } = this.deps;
    const address = await http.listen({ host: config.httpHost, port: config.httpPort });
    this.state = 'running';
    await models.start(config.modelRefreshMs, { subscriber, channel: store.eventsChannel });
    await lag.start(config.lagIntervalMs);
    this.deps.scheduler?.start();
    if (models.serving() === undefined) log.warn({ reason: reasonOf(models) }, 'waiting for a model');
    void models.ready().then(async (m) => {
      if (this.state !== 'running') return;
      log.info({ model: m.name, version: m.version, serving: models.serving() }, 'starting the consumer');
      try {
        await consumer.start(async (batch, turn) => {
          await pipeline.process(batch, turn);
        });
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
    return { httpUrl: address };
  }

  /**
   * The service cannot go on (authorisation refused, a topic missing, a bug): it says why once,
   * `/healthz` answers 503 so that an orchestrator restarts it, and `failed` resolves, on which
   * the entry point shuts down and exits non-zero.
   */
  fail(err: Error): void {
    if (this.failure !== undefined || this.state === 'stopped' || this.state === 'draining') return;
    this.failure = err;
    this.state = 'failed';
    this.deps.log.error({ err, code: (err as { code?: unknown }).code }, 'the service cannot go on');
    this.onFailed(err);
  }

  /** Liveness: false once the service failed. */
  health(): { ok: boolean; detail?: string } {
    return this.failure === undefined ? { ok: true } : { ok: false, detail: this.failure.message };
  }

  async readiness(): Promise<Readiness> {
    const { redis, models, consumer, lag } = this.deps;
    const serving = models.serving();
    const checks: Readiness['checks'] = {
      redis: redis.status === 'ready' ? { ok: true } : { ok: false, detail: `redis is ${redis.status}` },
      model: serving !== undefined ? { ok: true, detail: serving } : { ok: false, detail: reasonOf(models) },
      kafka: consumer.health(),
      progress: progressCheck(lag.stalledPartitions()),
    };
    const ready = this.state === 'running' && Object.values(checks).every((c) => c.ok);
    return { ready, checks };
  }

  get status(): ServiceState {
    return this.state;
  }

  /**
   * Stops fetching, lets the batch in flight finish (its outputs flushed, its offsets committed),
   * then closes the producer, Redis and HTTP. Idempotent; forced after `shutdownGraceMs`.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const { config, log, models, consumer, sink, redis, subscriber, http, pipeline, lag, admin, replays } = this.deps;
    this.state = 'draining';
    const step = async (name: string, fn: () => Promise<unknown> | unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        log.warn({ step: name, err: asError(err) }, 'shutdown step failed');
      }
    };
    const ordered = async (): Promise<void> => {
      models.stop();
      lag.stop();
      await step('consumer', () => consumer.stop());
      await step('pipeline', () => pipeline.drained());
      // No new scheduled run; the runs held here are left to another replica (or the next start).
      await step('scheduler', () => this.deps.scheduler?.close());
      // Running replays stop after their batches in flight and can be resumed (state interrupted).
      await step('replays', () => replays.close());
      await step('producer', () => sink.close());
      await step('admin', () => admin.close());
      await step('models', () => models.releaseAll());
      await step('redis', () => Promise.all([redis.quit(), subscriber.quit()]));
      await step('http', () => http.close());
    };
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<'forced'>((resolve) => {
      timer = setTimeout(() => resolve('forced'), config.shutdownGraceMs);
      timer.unref();
    });
    const outcome = await Promise.race([ordered().then(() => 'clean' as const), forced]);
    clearTimeout(timer);
    if (outcome === 'forced') {
      log.error({ graceMs: config.shutdownGraceMs }, 'shutdown grace period over; forcing');
      redis.disconnect();
      subscriber.disconnect();
      this.state = 'failed';
      return;
    }
    this.state = 'stopped';
    log.info('stopped');
  }
}

/** Whether every partition with lag advances; a stall is never silent. */
function progressCheck(stalled: readonly Stall[]): { ok: boolean; detail?: string } {
  if (stalled.length === 0) return { ok: true };
  const now = Date.now();
  return { ok: false, detail: stalled.map((s) => `partition ${s.partition} of ${s.topic} has not advanced for ${Math.round((now - s.sinceMs) / 1000)} s with lag ${s.lag}`).join('; ') };
}


function reasonOf(models: ModelSet): string {
  const s = models.status();
  return s.status === 'serving' ? 'serving' : s.reason;
}
