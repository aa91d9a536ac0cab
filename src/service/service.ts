import type { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { confluentSchemaSource, eventDecoderFor, predictionEncoderFor } from '../codec/index.js';
import type { Config } from '../config/index.js';
import { OnlineConsumer } from '../consumer/online-consumer.js';
import { errorMessage } from '../errors.js';
import { dashboardRoutes } from '../http/dashboard.js';
import { replayRoutes } from '../http/replay-routes.js';
import { ReplayJobs } from '../replay/index.js';
import { buildHttpServer, type Readiness } from '../http/server.js';
import { createKafka, ensureTopics } from '../kafka/client.js';
import { LagMonitor } from '../metrics/lag.js';
import { ServiceMetrics } from '../metrics/metrics.js';
import { ScoringPipeline } from '../pipeline/pipeline.js';
import { KafkaSink } from '../producer/kafka-sink.js';
import { ModelFileStore, RedisModelStore, connectRedis } from '../registry/index.js';
import { ModelManager } from '../scoring/model-manager.js';
import { OnnxScorer } from '../scoring/onnx-scorer.js';

export type ServiceState = 'created' | 'running' | 'draining' | 'stopped' | 'failed';

interface ServiceDeps {
  config: Config;
  log: Logger;
  redis: Redis;
  subscriber: Redis;
  store: RedisModelStore;
  kafka: Kafka;
  admin: Admin;
  lag: LagMonitor;
  replays: ReplayJobs;
  sink: KafkaSink;
  models: ModelManager;
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

  private constructor(private readonly deps: ServiceDeps) {}

  static async create(config: Config, log: Logger): Promise<ScoringService> {
    const redis = connectRedis(config.redisUrl, log);
    const subscriber = connectRedis(config.redisUrl, log);
    const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId, logger: log });
    let sink: KafkaSink | undefined;
    const admin = kafka.admin();
    try {
      await Promise.all([redis.connect(), subscriber.connect(), admin.connect()]);
      const shadowTopic = config.shadowTopic ?? `${config.predictionsTopic}.shadow`;
      if (config.createTopics) {
        const topics = [config.featuresTopic, config.predictionsTopic, config.deadLetterTopic];
        if (config.shadowAlias !== '') topics.push(shadowTopic);
        await ensureTopics(kafka, topics, config.topicPartitions);
      }
      const schemas = confluentSchemaSource(config.schemaRegistryUrl);
      const decoder = eventDecoderFor(config.inputFormat, schemas);
      const encoder = await predictionEncoderFor(config, schemas);
      // Online delivery is at-least-once already; without idempotence requests may overlap.
      sink = await KafkaSink.connect(kafka, { idempotent: false });
      const metrics = new ServiceMetrics(config.driftWindow, config.featuresTopic);
      const lag = new LagMonitor(admin, config.groupId, config.featuresTopic, (l) => metrics.setLag(l), log.child({ component: 'lag' }));
      const store = new RedisModelStore(redis, {
        prefix: config.redisKeyPrefix,
        inlineMaxBytes: config.modelInlineMaxBytes,
        fileStore: new ModelFileStore(config.modelStoreDir),
      });
      const models = new ModelManager(
        store,
        config.modelName,
        { primary: config.modelAlias, shadow: config.shadowAlias === '' ? undefined : config.shadowAlias },
        (artifact) => OnnxScorer.load(artifact.bytes, artifact.meta, { intraOpThreads: config.intraOpThreads }),
        log.child({ component: 'models' }),
        metrics.models,
      );
      const pipeline = new ScoringPipeline(models, decoder, encoder, sink, { ...config, shadowTopic }, metrics.pipeline);
      const consumer = new OnlineConsumer(
        kafka,
        {
          groupId: config.groupId,
          topic: config.featuresTopic,
          fromBeginning: config.startFrom === 'earliest',
          partitionsConcurrently: config.partitionsConcurrently,
          maxBytesPerPartition: config.maxBytesPerPartition,
          sessionTimeoutMs: config.sessionTimeoutMs,
          commitIntervalMs: config.commitIntervalMs,
        },
        log.child({ component: 'consumer', topic: config.featuresTopic }),
      );
      const replays = await ReplayJobs.create(config, log, { register: metrics.registry, redis });
      let service: ScoringService | undefined;
      const http = await buildHttpServer({
        readiness: () => service!.readiness(),
        metrics: metrics.registry,
        logger: log,
        admin: { store, tokens: config.apiTokens, maxUploadBytes: config.maxUploadBytes },
        plugins: [dashboardRoutes(), replayRoutes({ jobs: replays, outputDir: config.replayOutputDir })],
      });
      service = new ScoringService({ config, log, redis, subscriber, store, kafka, admin, lag, replays, sink, models, pipeline, consumer, metrics, http });
      return service;
    } catch (err) {
      await sink?.close().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      redis.disconnect();
      subscriber.disconnect();
      throw err;
    }
  }

  get httpServer(): FastifyInstance {
    return this.deps.http;
  }

  /** The model manager (which versions serve). */
  get models(): ModelManager {
    return this.deps.models;
  }

  /** Serves HTTP at once; consumes as soon as a model is loaded (until then /readyz says why not). */
  async start(): Promise<{ httpUrl: string }> {
    const { config, http, models, consumer, pipeline, log, subscriber, store, lag } = this.deps;
    const address = await http.listen({ host: config.httpHost, port: config.httpPort });
    this.state = 'running';
    await models.start(config.modelRefreshMs, { subscriber, channel: store.eventsChannel });
    await lag.start(config.lagIntervalMs);
    if (models.current() === undefined) log.warn({ reason: reasonOf(models) }, 'waiting for a model');
    void models.ready().then(async (m) => {
      if (this.state !== 'running') return;
      log.info({ model: m.name, version: m.version }, 'starting the consumer');
      try {
        await consumer.start((batch) => pipeline.process(batch));
      } catch (err) {
        this.state = 'failed';
        log.error({ err: errorMessage(err) }, 'the consumer could not start');
      }
    });
    return { httpUrl: address };
  }

  async readiness(): Promise<Readiness> {
    const { redis, models, consumer } = this.deps;
    const model = models.current();
    const checks: Readiness['checks'] = {
      redis: redis.status === 'ready' ? { ok: true } : { ok: false, detail: `redis is ${redis.status}` },
      model: model !== undefined ? { ok: true, detail: `${model.name} v${model.version}` } : { ok: false, detail: reasonOf(models) },
      kafka: consumer.health(),
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
        log.warn({ step: name, err: errorMessage(err) }, 'shutdown step failed');
      }
    };
    const ordered = async (): Promise<void> => {
      models.stop();
      lag.stop();
      await step('consumer', () => consumer.stop());
      await step('pipeline', () => pipeline.drained());
      // Running replays stop after their batches in flight and can be resumed (state interrupted).
      await step('replays', () => replays.close());
      await step('producer', () => sink.close());
      await step('admin', () => admin.disconnect());
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

function reasonOf(models: ModelManager): string {
  const s = models.status();
  return s.status === 'serving' ? 'serving' : s.reason;
}
