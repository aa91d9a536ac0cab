import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { confluentSchemaSource, eventDecoderFor, predictionEncoderFor, type PredictionEncoder } from '../codec/index.js';
import type { Config } from '../config/index.js';
import { OnlineConsumer, groupOptionsFrom } from '../consumer/online-consumer.js';
import { dashboardRoutes } from '../http/dashboard.js';
import { inferenceRoutes } from '../http/inference.js';
import { replayRoutes } from '../http/replay-routes.js';
import { scheduleRoutes } from '../http/schedule-routes.js';
import { buildHttpServer, type Readiness } from '../http/server.js';
import { KAFKA_CODES, createKafkaClient, kafkaConnection, kafkaError, type Admin, type KafkaClient } from '../kafka/index.js';
import { eventLog } from '../metrics/event-log.js';
import { LagMonitor } from '../metrics/lag.js';
import { ServiceMetrics } from '../metrics/metrics.js';
import { observeAll } from '../pipeline/observers.js';
import { ScoringPipeline } from '../pipeline/pipeline.js';
import { KafkaSink } from '../producer/kafka-sink.js';
import { TransactionBatcher } from '../producer/transactions.js';
import { connectRedis, contractsFor, modelStoreFor, type ModelStore } from '../registry/index.js';
import { ReplayJobs } from '../replay/index.js';
import { topicAllowList } from '../replay/jobs.js';
import { ScheduleMetrics, scheduleStoreFor, schedulerFor, schedulesFor } from '../schedule/index.js';
import type { RouteTable } from '../config/routes.js';
import { ModelManager } from '../scoring/model-manager.js';
import { ModelSet } from '../scoring/model-set.js';
import { OnnxScorer } from '../scoring/onnx-scorer.js';
import { outputTopics, routerOf, sourceTopics, tableOf } from './routing.js';
import type { ServiceParts } from './service.js';

/** What the parts call back on the service once it exists (it is made from them). */
export interface ServiceHooks {
  fail(err: Error): void;
  readiness(): Promise<Readiness>;
  health(): { ok: boolean; detail?: string };
}

interface Connections {
  redis: Redis;
  subscriber: Redis;
  kafka: KafkaClient;
  admin: Admin;
}

/**
 * Opens every connection and builds the service's parts from the configuration. On a failure
 * what was opened is closed again. `hooks` is filled in by the caller once the service exists.
 */
export async function assemble(config: Config, log: Logger, hooks: ServiceHooks): Promise<ServiceParts> {
  const conns = await connect(config, log);
  let sink: KafkaSink | undefined;
  try {
    const table = tableOf(config);
    await prepareTopics(config, conns.admin, table);
    const schemas = confluentSchemaSource(config);
    const metrics = new ServiceMetrics(config.driftWindow, sourceTopics(table), table.models.map((m) => m.name));
    // A routing table's predictions are JSON (loadConfig refuses a schema format with it), so one encoder serves every topic.
    sink = await kafkaSink(config, log, conns.kafka, await predictionEncoderFor(config, schemas, config.predictionsTopic), metrics);
    const store = modelStoreFor(conns.redis, config);
    const models = modelsFor(config, table, store, log, metrics);
    const observer = observeAll(metrics.pipeline, eventLog(log.child({ component: 'events' })));
    // Without a routing table the one model's outcomes go to the sink's own topics, as always.
    const scoredBy = config.routes === undefined ? models.managers[0] : routerOf(table, models);
    const pipeline = new ScoringPipeline(scoredBy, eventDecoderFor(config, schemas), sink, config, observer);
    const topics = sourceTopics(table);
    const consumer = consumerFor(config, conns.kafka, topics, log, hooks);
    const lag = new LagMonitor(conns.admin, config.groupId, topics, (l, s) => metrics.setLag(l, s), log.child({ component: 'lag' }), config.stallAfterMs);
    const replays = await ReplayJobs.create(config, log, { register: metrics.registry, redis: conns.redis });
    const allowTopic = topicAllowList(config.replayAllowedTopics);
    const scheduleStore = scheduleStoreFor(conns.redis, config);
    // Every replica may run the scheduler: each firing is claimed by one of them.
    const scheduler = config.scheduleEnabled
      ? schedulerFor(config, { store: scheduleStore, replays, metrics: new ScheduleMetrics(metrics.registry), log, allowTopic })
      : undefined;
    const http = await httpFor(config, { table, hooks, metrics, store, replays, allowTopic, scheduleStore, schemas, log });
    return { config, log, ...conns, store, lag, replays, scheduler, sink, models, pipeline, consumer, metrics, http };
  } catch (err) {
    await sink?.close().catch(() => undefined);
    await conns.admin.close().catch(() => undefined);
    conns.redis.disconnect();
    conns.subscriber.disconnect();
    throw err;
  }
}

/** One model manager per model of the table, as one set. */
function modelsFor(config: Config, table: RouteTable, store: ModelStore, log: Logger, metrics: ServiceMetrics): ModelSet {
  const managers = table.models.map(
    (m) =>
      new ModelManager(
        store,
        m.name,
        { primary: m.alias, shadow: m.shadowAlias },
        (artifact) => OnnxScorer.load(artifact.bytes, artifact.meta, { intraOpThreads: config.intraOpThreads }),
        log.child({ component: 'models', model: m.name }),
        metrics.models,
      ),
  );
  return new ModelSet(managers as [ModelManager, ...ModelManager[]]);
}

/** The group consumer of every source topic; it commits itself unless each batch's transaction does. */
function consumerFor(config: Config, kafka: KafkaClient, topics: string[], log: Logger, hooks: ServiceHooks): OnlineConsumer {
  return new OnlineConsumer(
    kafka.groupConsumer(groupOptionsFrom(config, { topics })),
    {
      commitIntervalMs: config.commitIntervalMs,
      window: config.maxInFlightBatches,
      revokeWaitMs: Math.floor(config.sessionTimeoutMs / 2),
      commits: config.delivery !== 'exactly-once',
    },
    log.child({ component: 'consumer', topic: topics.length === 1 ? topics[0] : topics }),
    (err) => hooks.fail(err),
  );
}

interface HttpParts {
  table: RouteTable;
  hooks: ServiceHooks;
  metrics: ServiceMetrics;
  store: ModelStore;
  replays: ReplayJobs;
  allowTopic: ReturnType<typeof topicAllowList>;
  scheduleStore: ReturnType<typeof scheduleStoreFor>;
  schemas: ReturnType<typeof confluentSchemaSource>;
  log: Logger;
}

/** The HTTP server: health, metrics, the admin API, and the dashboard, replay, schedule and inference routes. */
async function httpFor(config: Config, p: HttpParts): Promise<ServiceParts['http']> {
  return buildHttpServer({
    readiness: () => p.hooks.readiness(),
    health: () => p.hooks.health(),
    metrics: p.metrics.registry,
    logger: p.log,
    admin: { store: p.store, tokens: config.apiTokens, maxUploadBytes: config.maxUploadBytes, contracts: contractsFor(config, p.schemas) },
    plugins: [
      dashboardRoutes(),
      replayRoutes({ jobs: p.replays, outputDir: config.replayOutputDir, allowTopic: p.allowTopic }),
      scheduleRoutes(schedulesFor(p.scheduleStore, p.store, config, p.allowTopic)),
      inferenceRoutes({ models: p.store, aliasOf: (name) => p.table.models.find((m) => m.name === name)?.alias ?? config.modelAlias }),
    ],
  });
}

async function connect(config: Config, log: Logger): Promise<Connections> {
  const redis = connectRedis(config, log);
  const subscriber = connectRedis(config, log);
  try {
    // Redis first: a refusal there must not leave a Kafka client half connected (librdkafka's
    // native client, destroyed mid-request at exit, can hold the process past process.exit).
    await Promise.all([redis.connect(), subscriber.connect()]);
    const kafka = await createKafkaClient(kafkaConnection(config), log);
    const admin = await kafka.admin();
    return { redis, subscriber, kafka, admin };
  } catch (err) {
    redis.disconnect();
    subscriber.disconnect();
    throw err;
  }
}

/** Creates the service's topics, or, with topic creation off, checks that they exist. */
async function prepareTopics(config: Config, admin: Admin, table: RouteTable): Promise<void> {
  const topics = [...sourceTopics(table), ...outputTopics(table)];
  if (config.createTopics) {
    await admin.ensureTopics(topics, config.topicPartitions);
    return;
  }
  // Without topic creation a missing topic is a setting to fix, not something to wait out.
  const existing = new Set(await admin.listTopics());
  // The shadow topic is best effort: it may be missing (the shadow's writes fail and are counted).
  const needed = [...sourceTopics(table), ...table.routes.flatMap((r) => [r.predictionsTopic, r.deadLetterTopic])];
  const missing = [...new Set(needed)].filter((t) => !existing.has(t));
  if (missing.length > 0) throw kafkaError(KAFKA_CODES.unknownTopic, `topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')} do${missing.length > 1 ? '' : 'es'} not exist`);
}

/** Predictions and dead letters: at-least-once on an idempotent producer, or in transactions. */
async function kafkaSink(config: Config, log: Logger, kafka: KafkaClient, encoder: PredictionEncoder, metrics: ServiceMetrics): Promise<KafkaSink> {
  const exactlyOnce = config.delivery === 'exactly-once';
  const producer = await kafka.producer(exactlyOnce ? { transactionalId: config.transactionalId ?? `${config.groupId}-${hostname()}` } : { idempotent: true });
  return new KafkaSink(producer, {
    ...(exactlyOnce ? { transactions: new TransactionBatcher(producer, config.groupId, log.child({ component: 'transactions' })) } : {}),
    predictionsTopic: config.predictionsTopic,
    deadLetterTopic: config.deadLetterTopic,
    shadowTopic: shadowTopicOf(config),
    encoder,
    provenance: config.provenanceHeaders,
    deadLetterMaxBytes: config.deadLetterMaxBytes,
    shadowProducer: () => kafka.producer({ idempotent: false }),
    log: log.child({ component: 'sink' }),
    onShadowFailure: (model, count) => metrics.shadowFailed(model, count),
  });
}

function shadowTopicOf(config: Config): string {
  return config.shadowTopic ?? `${config.predictionsTopic}.shadow`;
}
