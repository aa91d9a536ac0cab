import { z } from 'zod';

/**
 * Every setting of the service, with its default beside it. Settings come from environment
 * variables (the name in `ENV_NAMES`) and may be overridden by CLI flags. Durations are `...Ms`
 * numbers in milliseconds.
 */
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();
const topicName = z
  .string()
  .min(1)
  .max(249)
  .regex(/^[a-zA-Z0-9._-]+$/, 'may hold only letters, digits, ".", "_" and "-"');
const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

export const configSchema = z.object({
  kafkaBrokers: z
    .string()
    .default('127.0.0.1:19092')
    .transform((s) => s.split(',').map((b) => b.trim()).filter((b) => b.length > 0))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'must be host:port')).min(1)).describe("Kafka bootstrap servers, comma-separated host:port."),
  kafkaClientId: z.string().min(1).default('kscore').describe("Client id sent to Kafka (shows in broker logs and quotas)."),
  featuresTopic: topicName.default('features').describe("Topic the feature events are read from."),
  predictionsTopic: topicName.default('predictions').describe("Topic predictions are written to."),
  deadLetterTopic: topicName.default('features.dlq').describe("Topic events that cannot be scored are written to, with the reason in a header."),
  groupId: z.string().min(1).default('kscore-online').describe("Consumer group of the online scorers."),
  startFrom: z.enum(['earliest', 'latest']).default('earliest').describe("Where a new consumer group starts: `earliest` loses nothing, `latest` skips history."),
  inputFormat: z.enum(['json', 'avro', 'auto']).default('auto').describe("Encoding of feature events: `json`, `avro` (Confluent wire format), or `auto` (by magic byte)."),
  outputFormat: z.enum(['json', 'avro']).default('json').describe("Encoding of predictions."),
  featuresField: z.string().min(1).optional().describe("When set, features are read from this field of the event instead of its top level."),
  schemaRegistryUrl: z.url().default('http://127.0.0.1:18081/apis/ccompat/v7').describe("Confluent-compatible schema registry base URL (Apicurio: `.../apis/ccompat/v7`)."),
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').default('redis://127.0.0.1:16379').describe("Redis holding the model registry."),
  redisKeyPrefix: z.string().default('kscore:').describe("Prefix of every Redis key the service uses."),
  modelName: z.string().regex(/^[a-zA-Z0-9._-]+$/).default('demo').describe("Model scored by the online path."),
  modelAlias: z.string().regex(/^[a-zA-Z0-9._-]+$/).default('production').describe("Alias of the model version that is scored."),
  shadowAlias: z.string().regex(/^[a-zA-Z0-9._-]*$/).default('shadow').describe("Alias scored in shadow (into the shadow topic) when the registry sets it; empty turns shadowing off."),
  shadowTopic: topicName.optional().describe("Topic of shadow predictions; default: the predictions topic + `.shadow`."),
  modelStoreDir: z.string().min(1).default('.kscore/models').describe("Folder (shared by replicas) for model files over the inline limit."),
  modelInlineMaxBytes: positiveInt.default(16 * 1024 * 1024).describe("Model versions up to this size, in bytes, are kept in Redis; larger ones in the file store."),
  maxUploadBytes: positiveInt.default(256 * 1024 * 1024).describe("Largest model upload the admin API accepts, in bytes."),
  replayOutputDir: z.string().min(1).default('.kscore/replays').describe("Folder under which replays started over HTTP may write file outputs."),
  apiTokens: z
    .string()
    .default('')
    .transform((s, ctx) => parseTokens(s, ctx))
    .describe("Admin API bearer tokens, comma-separated `owner:role:token` with role `read` or `admin`; none: the API refuses every call."),
  modelRefreshMs: positiveInt.default(5000).describe("How often the alias is re-read from Redis to catch a promotion, in ms."),
  commitIntervalMs: positiveInt.default(1000).describe("How often offsets of acknowledged batches are committed, in ms (also before shutdown and rebalances); after a crash up to this much is scored again."),
  lagIntervalMs: positiveInt.default(5000).describe("How often consumer lag is read from Kafka for the lag gauge, in ms."),
  driftWindow: positiveInt.default(10000).describe("Events in the sliding window over which input drift (PSI) is computed."),
  maxBatchSize: positiveInt.max(65536).default(512).describe("Most events scored in one onnxruntime call."),
  maxWaitMs: nonNegativeInt.max(10000).default(5).describe("Most time an event waits for its micro-batch to fill, in ms."),
  partitionsConcurrently: positiveInt.max(256).default(8).describe("Partitions whose fetched batches are handled at once (and may share a micro-batch)."),
  sessionTimeoutMs: z.coerce.number().int().min(6000).max(300000).default(30000).describe("Time without heartbeats after which the group gives a member's partitions to others, in ms."),
  intraOpThreads: positiveInt.max(64).default(1).describe("Threads onnxruntime uses inside one scoring call."),
  maxBytesPerPartition: positiveInt.default(1_048_576).describe("Fetch size limit per partition, in bytes."),
  httpHost: z.string().min(1).default('127.0.0.1').describe("Host the HTTP server (health, readiness, metrics) listens on."),
  httpPort: z.coerce.number().int().min(0).max(65535).default(18080).describe("Port of the HTTP server; 0 picks a free one."),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe("Log level: fatal, error, warn, info, debug, trace or silent."),
  shutdownGraceMs: positiveInt.default(15000).describe("Time allowed to finish the batch in flight and commit on shutdown, in ms, before forcing."),
  createTopics: bool.default(true).describe("Create the service's topics at start-up if missing."),
  topicPartitions: positiveInt.default(3).describe("Partitions of topics the service creates."),
});

export interface ApiToken {
  readonly owner: string;
  readonly role: 'read' | 'admin';
  readonly token: string;
}

function parseTokens(s: string, ctx: z.RefinementCtx): ApiToken[] {
  const tokens: ApiToken[] = [];
  for (const part of s.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const [owner, role, ...rest] = part.split(':');
    const token = rest.join(':');
    if (!owner || (role !== 'read' && role !== 'admin') || token.length < 16) {
      ctx.addIssue({ code: 'custom', message: `"${owner ?? ''}:${role ?? ''}:..." must be owner:read|admin:token with a token of 16 or more characters` });
      continue;
    }
    tokens.push({ owner, role, token });
  }
  return tokens;
}

export type Config = Readonly<z.infer<typeof configSchema>>;
export type ConfigInput = z.input<typeof configSchema>;

/** Environment variable of each setting. */
export const ENV_NAMES: Readonly<Record<keyof Config, string>> = {
  kafkaBrokers: 'KAFKA_BROKERS',
  kafkaClientId: 'KSCORE_KAFKA_CLIENT_ID',
  featuresTopic: 'KSCORE_FEATURES_TOPIC',
  predictionsTopic: 'KSCORE_PREDICTIONS_TOPIC',
  deadLetterTopic: 'KSCORE_DEAD_LETTER_TOPIC',
  groupId: 'KSCORE_GROUP_ID',
  startFrom: 'KSCORE_START_FROM',
  inputFormat: 'KSCORE_INPUT_FORMAT',
  outputFormat: 'KSCORE_OUTPUT_FORMAT',
  featuresField: 'KSCORE_FEATURES_FIELD',
  schemaRegistryUrl: 'SCHEMA_REGISTRY_URL',
  redisUrl: 'REDIS_URL',
  redisKeyPrefix: 'KSCORE_REDIS_KEY_PREFIX',
  modelName: 'KSCORE_MODEL_NAME',
  modelAlias: 'KSCORE_MODEL_ALIAS',
  shadowAlias: 'KSCORE_SHADOW_ALIAS',
  shadowTopic: 'KSCORE_SHADOW_TOPIC',
  modelStoreDir: 'KSCORE_MODEL_STORE_DIR',
  modelInlineMaxBytes: 'KSCORE_MODEL_INLINE_MAX_BYTES',
  maxUploadBytes: 'KSCORE_MAX_UPLOAD_BYTES',
  replayOutputDir: 'KSCORE_REPLAY_OUTPUT_DIR',
  apiTokens: 'KSCORE_API_TOKENS',
  modelRefreshMs: 'KSCORE_MODEL_REFRESH_MS',
  commitIntervalMs: 'KSCORE_COMMIT_INTERVAL_MS',
  lagIntervalMs: 'KSCORE_LAG_INTERVAL_MS',
  driftWindow: 'KSCORE_DRIFT_WINDOW',
  maxBatchSize: 'KSCORE_MAX_BATCH_SIZE',
  maxWaitMs: 'KSCORE_MAX_WAIT_MS',
  partitionsConcurrently: 'KSCORE_PARTITIONS_CONCURRENTLY',
  sessionTimeoutMs: 'KSCORE_SESSION_TIMEOUT_MS',
  intraOpThreads: 'KSCORE_INTRA_OP_THREADS',
  maxBytesPerPartition: 'KSCORE_MAX_BYTES_PER_PARTITION',
  httpHost: 'KSCORE_HTTP_HOST',
  httpPort: 'KSCORE_HTTP_PORT',
  logLevel: 'KSCORE_LOG_LEVEL',
  shutdownGraceMs: 'KSCORE_SHUTDOWN_GRACE_MS',
  createTopics: 'KSCORE_CREATE_TOPICS',
  topicPartitions: 'KSCORE_TOPIC_PARTITIONS',
};
