import { existsSync } from 'node:fs';
import { z } from 'zod';
import { SUBJECT_NAME_STRATEGIES } from '../codec/subjects.js';
import { NAME_CHARS, NAME_PATTERN, TOPIC_PATTERN } from './names.js';
import { parseRouteEntries } from './routes.js';

/**
 * Every setting of the service, with its default beside it. Settings come from environment
 * variables (the name in `ENV_NAMES`) and may be overridden by CLI flags. Durations are `...Ms`
 * numbers in milliseconds.
 */
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();
const topicName = z.string().regex(TOPIC_PATTERN, `may hold only ${NAME_CHARS} (1 to 249)`);
const name = z.string().regex(NAME_PATTERN, `may hold only ${NAME_CHARS} (1 to 128)`);
const filePath = z.string().min(1).refine((p) => existsSync(p), 'no such file (or not readable)');
/** A field name, or field names joined by dots. */
const DOTTED_PATH = /^[^.]+(?:\.[^.]+)*$/;
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
  kafkaClient: z.enum(['kafkajs', 'librdkafka']).default('kafkajs').describe("Kafka client: `kafkajs` (pure JavaScript) or `librdkafka` (@confluentinc/kafka-javascript, faster; its native addon is built by `scripts/kafka-native`)."),
  kafkaSecurityProtocol: z.enum(['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl']).default('plaintext').describe("How the Kafka clients connect: `plaintext`, `ssl` (TLS), `sasl_plaintext` or `sasl_ssl` (SASL over TLS)."),
  kafkaSaslMechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer']).optional().describe("SASL mechanism (needed with `sasl_*`): `plain`, `scram-sha-256`, `scram-sha-512` or `oauthbearer`."),
  kafkaSaslUsername: z.string().min(1).optional().describe("SASL user name (PLAIN, SCRAM)."),
  kafkaSaslPassword: z.string().min(1).optional().describe("SASL password (PLAIN, SCRAM). Secret: also `..._FILE`."),
  kafkaSaslOauthTokenFile: filePath.optional().describe("OAUTHBEARER: a file holding the current token, read again whenever the client needs one."),
  kafkaSaslOauthTokenCommand: z.string().min(1).optional().describe("OAUTHBEARER: a shell command that prints a token (when no token file is set)."),
  kafkaTlsCaFile: filePath.optional().describe("PEM file of the CA certificates that sign the brokers' certificates; default: the system's."),
  kafkaTlsCertFile: filePath.optional().describe("PEM file of the client certificate, for mutual TLS."),
  kafkaTlsKeyFile: filePath.optional().describe("PEM file of the client certificate's private key, for mutual TLS."),
  kafkaTlsKeyPassword: z.string().min(1).optional().describe("Password of the client key, if it is encrypted. Secret: also `..._FILE`."),
  kafkaTlsVerifyHostname: bool.default(true).describe("Check that a broker's certificate names the host connected to (the chain is always verified)."),
  featuresTopic: topicName.default('features').describe("Topic the feature events are read from."),
  predictionsTopic: topicName.default('predictions').describe("Topic predictions are written to."),
  deadLetterTopic: topicName.default('features.dlq').describe("Topic events that cannot be scored are written to, with the reason in a header."),
  groupId: z.string().min(1).default('kscore-online').describe("Consumer group of the online scorers."),
  startFrom: z.enum(['earliest', 'latest']).default('earliest').describe("Where a new consumer group starts: `earliest` loses nothing, `latest` skips history."),
  inputFormat: z.enum(['json', 'confluent', 'avro', 'auto']).default('auto').describe("Encoding of feature events: `json`; `confluent`, the Confluent wire format (magic byte 0, schema id), read as Avro, Protobuf or JSON Schema by the type the registry gives the id; `avro`, its former name (the same); or `auto`, each event by its first byte."),
  jsonSchemaValidate: bool.default(false).describe("Check each JSON Schema event against its schema (ajv; a mismatch is dead-lettered as `decode-error`). Off: the event is only parsed, as fast as plain JSON."),
  outputFormat: z.enum(['json', 'avro', 'protobuf', 'json-schema']).default('json').describe("Encoding of predictions: `json` (no schema), or the Confluent wire format with a registered schema: `avro`, `protobuf` or `json-schema` (record `kscore.Prediction`)."),
  subjectNameStrategy: z.enum(SUBJECT_NAME_STRATEGIES).default('topic').describe("Subject of the prediction schema, registered or read: `topic` (`<topic>-value`), `record` (`kscore.Prediction`) or `topic-record` (`<topic>-kscore.Prediction`); also of the event schema `kscore produce --format avro` registers. Events are read by their schema id, whatever subject holds it."),
  autoRegisterSchemas: bool.default(true).describe("Register kscore's prediction schema at start-up. Off: use the latest schema of the subject (or `KSCORE_OUTPUT_SCHEMA_SUBJECT`), or `KSCORE_OUTPUT_SCHEMA_ID`; start-up stops when it is missing or cannot carry predictions."),
  outputSchemaId: nonNegativeInt.optional().describe("Write predictions with this registered schema id (checked at start-up to carry predictions); nothing is registered."),
  outputSchemaSubject: z.string().min(1).optional().describe("Subject of the prediction schema instead of the naming strategy's: registered under, or (registration off) its latest version used."),
  schemaContracts: z.enum(['enforce', 'off']).default('enforce').describe("Schema contracts: at registration and promotion a model's inputs are checked against the latest schema of each topic it reads (`<topic>-value`, or `KSCORE_INPUT_SCHEMA_SUBJECT`); a missing field or one of a type the input cannot take refuses it, unless overridden with a reason (audited). A topic without a subject is not checked. `off`: no checks."),
  inputSchemaSubject: z.string().min(1).optional().describe("Subject of the feature events' schema that schema contracts check, instead of `<topic>-value`: the record name (record strategy, `com.acme.Features`), or with `{topic}` for each topic's own (topic-record strategy, `{topic}-com.acme.Features`)."),
  provenanceHeaders: z.enum(['headers', 'compact']).default('headers').describe("How a prediction names its model version and source record: `headers` (`kscore-model`, `kscore-model-version`, `kscore-source-topic`, `-partition`, `-offset`) or `compact` (one `kscore-provenance` header, `model:version@topic:partition:offset`; cheaper to write)."),
  deadLetterMaxBytes: positiveInt.default(900 * 1024).describe("Dead-letter values above this many bytes are cut to it (headers `kscore-dlq-truncated`, `kscore-dlq-original-size`), so a dead letter always fits the broker's limit; in bytes."),
  routes: z
    .string()
    .min(1)
    .transform((s, ctx) => parseRouteEntries(s, ctx))
    .optional()
    .describe("Several models in one service: a JSON array of routes, each `{\"topic\", \"model\"}` with optional `alias` and `shadowAlias` (default `KSCORE_MODEL_ALIAS`, `KSCORE_SHADOW_ALIAS`), `predictionsTopic` (default `<model>.predictions`), `deadLetterTopic` (default `<model>.dlq`), `shadowTopic`, and `header` or `field` with a `value` to split one topic between models (events matching no route go to `<topic>.dlq`). Also `KSCORE_ROUTES_FILE`. Unset: one route from `KSCORE_FEATURES_TOPIC`, `KSCORE_MODEL_NAME` and their topics; set, those topic settings are not used."),
  featuresField: z.string().regex(DOTTED_PATH, 'must be a field name or a dotted path of them, without empty parts').optional().describe("When set, features are read from this object of the event instead of its top level; a dotted path (`payload.features`) reaches into nested objects."),
  featurePaths: z
    .string()
    .default('')
    .transform((s, ctx) => parseFeaturePaths(s, ctx))
    .describe("Where single features are, when not at the top level (or under `KSCORE_FEATURES_FIELD`): comma-separated `feature=dotted.path` from the event's top level; a part may be an array index (`values.3`)."),
  schemaRegistryUrl: z.url().default('http://127.0.0.1:18081/apis/ccompat/v7').describe("Confluent-compatible schema registry base URL (Apicurio: `.../apis/ccompat/v7`)."),
  schemaRegistryUsername: z.string().min(1).optional().describe("Schema registry basic-auth user name."),
  schemaRegistryPassword: z.string().min(1).optional().describe("Schema registry basic-auth password. Secret: also `..._FILE`."),
  schemaRegistryCaFile: filePath.optional().describe("PEM file of the CA certificates to trust for an `https://` schema registry; default: the system's."),
  schemaRegistryTimeoutMs: positiveInt.default(10_000).describe("A schema registry request unanswered for this long is abandoned and sent again (twice), then fails as the registry being away; in ms."),
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').default('redis://127.0.0.1:16379').describe("Redis holding the model registry (`rediss://` for TLS; a password in the URL works too, but `KSCORE_REDIS_PASSWORD_FILE` keeps it out of the environment)."),
  redisUsername: z.string().min(1).optional().describe("Redis ACL user name."),
  redisPassword: z.string().min(1).optional().describe("Redis password (of the ACL user, or the default user's). Secret: also `..._FILE`."),
  redisTlsCaFile: filePath.optional().describe("PEM file of the CA certificates to trust for `rediss://`; default: the system's."),
  redisKeyPrefix: z.string().default('kscore:').describe("Prefix of every Redis key the service uses."),
  modelName: name.default('demo').describe("Model scored by the online path."),
  modelAlias: name.default('production').describe("Alias of the model version that is scored."),
  shadowAlias: z.union([z.literal(''), name]).default('shadow').describe("Alias scored in shadow (into the shadow topic) when the registry sets it; empty turns shadowing off."),
  shadowTopic: topicName.optional().describe("Topic of shadow predictions; default: the predictions topic + `.shadow`."),
  modelStoreDir: z.string().min(1).default('.kscore/models').describe("Folder (shared by replicas) for model files over the inline limit."),
  modelInlineMaxBytes: positiveInt.default(16 * 1024 * 1024).describe("Model versions up to this size, in bytes, are kept in Redis; larger ones in the file store."),
  maxUploadBytes: positiveInt.default(256 * 1024 * 1024).describe("Largest model upload the admin API accepts, in bytes."),
  replayMaxJobs: positiveInt.max(64).default(2).describe("Replay jobs that may run at once in one process; one more is refused (HTTP 429) until one ends."),
  replayAllowedTopics: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((t) => t.trim()).filter((t) => t.length > 0))
    .describe("Topics replays started over HTTP may read and write: comma-separated names, or prefixes ending in `*`; unset: any topic."),
  replayRetentionMs: positiveInt.default(7 * 24 * 3600 * 1000).describe("Finished replay jobs (and their checkpoints) are removed from Redis this long after they end, in ms."),
  replayOutputDir: z.string().min(1).default('.kscore/replays').describe("Folder under which replays started over HTTP may write file outputs."),
  scheduleEnabled: bool.default(true).describe("Run the scheduler in this replica: it starts scheduled runs when they are due. Any number of replicas may; each firing runs once, on one of them."),
  scheduleTickMs: positiveInt.min(100).max(3_600_000).default(5000).describe("How often the scheduler looks for due firings, in ms; a firing's lease lasts three ticks plus 5 s (20 s by default)."),
  scheduleCatchUp: z.enum(['latest', 'all', 'none']).default('latest').describe("What happens to firings missed while no replica ran, for schedules that name no policy: `latest` runs the most recent once, `all` runs each (the newest 100), `none` skips them."),
  scheduleHistory: positiveInt.max(10_000).default(100).describe("Runs kept in each schedule's history (the newest; older ones are removed)."),
  apiTokens: z
    .string()
    .default('')
    .transform((s, ctx) => parseTokens(s, ctx))
    .describe("Admin API bearer tokens, comma-separated `owner:role:token` with role `read` or `admin`; none: the API refuses every call. Secret: also `..._FILE`."),
  modelRefreshMs: positiveInt.default(5000).describe("How often the alias is re-read from Redis to catch a promotion, in ms."),
  delivery: z.enum(['at-least-once', 'exactly-once']).default('at-least-once').describe("`at-least-once`: offsets committed after the outputs are acknowledged (a crash may score events again). `exactly-once`: each batch's predictions, dead letters and offsets in one Kafka transaction, so a `read_committed` reader sees each prediction once."),
  transactionalId: z.string().min(1).max(200).optional().describe("Exactly-once: the producer's transactional id, stable across restarts of one replica (a restarted replica fences its old self); default `<group>-<host name>`, which a StatefulSet keeps stable."),
  commitIntervalMs: positiveInt.default(1000).describe("How often offsets of acknowledged batches are committed, in ms (also before shutdown and rebalances); after a crash up to this much is scored again."),
  lagIntervalMs: positiveInt.default(5000).describe("How often consumer lag is read from Kafka for the lag gauge, in ms."),
  stallAfterMs: positiveInt.default(60_000).describe("A partition with lag whose committed offset has not moved for this long is reported stalled (metric, log, /readyz), in ms."),
  driftWindow: positiveInt.default(10000).describe("Events in the sliding window over which input drift (PSI) is computed."),
  maxBatchSize: positiveInt.max(65536).default(512).describe("Most events scored in one onnxruntime call."),
  maxWaitMs: nonNegativeInt.max(10000).default(5).describe("Most time an event waits for its micro-batch to fill, in ms."),
  maxInFlightBatches: positiveInt.max(64).default(4).describe("Fetched batches of one partition in flight at once (being scored or acknowledged), so fetching overlaps with producing; order within a partition is kept."),
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

/** Where one feature is read from: a path of field names (or array indexes) from the event's top level. */
export interface FeaturePath {
  readonly feature: string;
  readonly path: readonly string[];
}

function parseFeaturePaths(s: string, ctx: z.RefinementCtx): FeaturePath[] {
  const out: FeaturePath[] = [];
  for (const part of s.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    const feature = eq < 0 ? '' : part.slice(0, eq).trim();
    const path = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (feature === '' || !DOTTED_PATH.test(path)) ctx.addIssue({ code: 'custom', message: `"${part}" must be feature=dotted.path` });
    else if (out.some((p) => p.feature === feature)) ctx.addIssue({ code: 'custom', message: `feature "${feature}" has two paths` });
    else out.push({ feature, path: path.split('.') });
  }
  return out;
}

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

/** Settings whose values are secrets: never printed, and each can be read from a file (`<ENV>_FILE`). */
export const SECRET_SETTINGS: ReadonlySet<keyof Config> = new Set<keyof Config>(['kafkaSaslPassword', 'kafkaTlsKeyPassword', 'schemaRegistryPassword', 'redisPassword', 'apiTokens']);

/** Settings that can be read from a file (`<ENV>_FILE`): the secrets, and the routing table, which is long. */
export const FILE_SETTINGS: ReadonlySet<keyof Config> = new Set<keyof Config>([...SECRET_SETTINGS, 'routes']);

/** Environment variable of each setting. */
export const ENV_NAMES: Readonly<Record<keyof Config, string>> = {
  kafkaBrokers: 'KAFKA_BROKERS',
  kafkaClientId: 'KSCORE_KAFKA_CLIENT_ID',
  kafkaClient: 'KSCORE_KAFKA_CLIENT',
  kafkaSecurityProtocol: 'KSCORE_KAFKA_SECURITY_PROTOCOL',
  kafkaSaslMechanism: 'KSCORE_KAFKA_SASL_MECHANISM',
  kafkaSaslUsername: 'KSCORE_KAFKA_SASL_USERNAME',
  kafkaSaslPassword: 'KSCORE_KAFKA_SASL_PASSWORD',
  kafkaSaslOauthTokenFile: 'KSCORE_KAFKA_SASL_OAUTH_TOKEN_FILE',
  kafkaSaslOauthTokenCommand: 'KSCORE_KAFKA_SASL_OAUTH_TOKEN_COMMAND',
  kafkaTlsCaFile: 'KSCORE_KAFKA_TLS_CA_FILE',
  kafkaTlsCertFile: 'KSCORE_KAFKA_TLS_CERT_FILE',
  kafkaTlsKeyFile: 'KSCORE_KAFKA_TLS_KEY_FILE',
  kafkaTlsKeyPassword: 'KSCORE_KAFKA_TLS_KEY_PASSWORD',
  kafkaTlsVerifyHostname: 'KSCORE_KAFKA_TLS_VERIFY_HOSTNAME',
  featuresTopic: 'KSCORE_FEATURES_TOPIC',
  predictionsTopic: 'KSCORE_PREDICTIONS_TOPIC',
  deadLetterTopic: 'KSCORE_DEAD_LETTER_TOPIC',
  groupId: 'KSCORE_GROUP_ID',
  startFrom: 'KSCORE_START_FROM',
  inputFormat: 'KSCORE_INPUT_FORMAT',
  jsonSchemaValidate: 'KSCORE_JSON_SCHEMA_VALIDATE',
  outputFormat: 'KSCORE_OUTPUT_FORMAT',
  subjectNameStrategy: 'KSCORE_SUBJECT_NAME_STRATEGY',
  autoRegisterSchemas: 'KSCORE_AUTO_REGISTER_SCHEMAS',
  outputSchemaId: 'KSCORE_OUTPUT_SCHEMA_ID',
  outputSchemaSubject: 'KSCORE_OUTPUT_SCHEMA_SUBJECT',
  schemaContracts: 'KSCORE_SCHEMA_CONTRACTS',
  inputSchemaSubject: 'KSCORE_INPUT_SCHEMA_SUBJECT',
  provenanceHeaders: 'KSCORE_PROVENANCE_HEADERS',
  deadLetterMaxBytes: 'KSCORE_DEAD_LETTER_MAX_BYTES',
  routes: 'KSCORE_ROUTES',
  featuresField: 'KSCORE_FEATURES_FIELD',
  featurePaths: 'KSCORE_FEATURE_PATHS',
  schemaRegistryUrl: 'SCHEMA_REGISTRY_URL',
  schemaRegistryUsername: 'KSCORE_SCHEMA_REGISTRY_USERNAME',
  schemaRegistryPassword: 'KSCORE_SCHEMA_REGISTRY_PASSWORD',
  schemaRegistryCaFile: 'KSCORE_SCHEMA_REGISTRY_CA_FILE',
  schemaRegistryTimeoutMs: 'KSCORE_SCHEMA_REGISTRY_TIMEOUT_MS',
  redisUrl: 'REDIS_URL',
  redisUsername: 'KSCORE_REDIS_USERNAME',
  redisPassword: 'KSCORE_REDIS_PASSWORD',
  redisTlsCaFile: 'KSCORE_REDIS_TLS_CA_FILE',
  redisKeyPrefix: 'KSCORE_REDIS_KEY_PREFIX',
  modelName: 'KSCORE_MODEL_NAME',
  modelAlias: 'KSCORE_MODEL_ALIAS',
  shadowAlias: 'KSCORE_SHADOW_ALIAS',
  shadowTopic: 'KSCORE_SHADOW_TOPIC',
  modelStoreDir: 'KSCORE_MODEL_STORE_DIR',
  modelInlineMaxBytes: 'KSCORE_MODEL_INLINE_MAX_BYTES',
  maxUploadBytes: 'KSCORE_MAX_UPLOAD_BYTES',
  replayMaxJobs: 'KSCORE_REPLAY_MAX_JOBS',
  replayAllowedTopics: 'KSCORE_REPLAY_ALLOWED_TOPICS',
  replayRetentionMs: 'KSCORE_REPLAY_RETENTION_MS',
  replayOutputDir: 'KSCORE_REPLAY_OUTPUT_DIR',
  scheduleEnabled: 'KSCORE_SCHEDULE_ENABLED',
  scheduleTickMs: 'KSCORE_SCHEDULE_TICK_MS',
  scheduleCatchUp: 'KSCORE_SCHEDULE_CATCH_UP',
  scheduleHistory: 'KSCORE_SCHEDULE_HISTORY',
  apiTokens: 'KSCORE_API_TOKENS',
  modelRefreshMs: 'KSCORE_MODEL_REFRESH_MS',
  delivery: 'KSCORE_DELIVERY',
  transactionalId: 'KSCORE_TRANSACTIONAL_ID',
  commitIntervalMs: 'KSCORE_COMMIT_INTERVAL_MS',
  lagIntervalMs: 'KSCORE_LAG_INTERVAL_MS',
  stallAfterMs: 'KSCORE_STALL_AFTER_MS',
  driftWindow: 'KSCORE_DRIFT_WINDOW',
  maxBatchSize: 'KSCORE_MAX_BATCH_SIZE',
  maxWaitMs: 'KSCORE_MAX_WAIT_MS',
  maxInFlightBatches: 'KSCORE_MAX_IN_FLIGHT_BATCHES',
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
