import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import type { Agent as HttpAgent } from 'node:http';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../config/index.js';
import { TransientError, errorMessage } from '../errors.js';
import { tlsFailure } from '../kafka/errors.js';
import { RegistryRefusedError, SchemaNotFoundError, SchemaUnsupportedError, SubjectNotFoundError } from './errors.js';
import type { SchemaKind, SchemaReference, SchemaSource, SchemaText } from './types.js';

export type RegistrySettings = Pick<Config, 'schemaRegistryUrl' | 'schemaRegistryUsername' | 'schemaRegistryPassword' | 'schemaRegistryCaFile' | 'schemaRegistryTimeoutMs'>;

/** The request layer's response, as its retry and timeout hooks see it. */
interface RequestOutcome {
  responseStatus: number;
  error(): { name?: string } | null;
}
interface PreparedRequest {
  timeout(): number | undefined;
  enhance(extras: { timeout: number }): PreparedRequest;
}

/**
 * A request the registry never answers would hold start-up (or an event's schema lookup) for
 * ever: each request gets a time limit, and one that runs out is retried like a 5xx. Every
 * request the client makes is idempotent (lookups, and registering a schema, which returns the
 * same id again), so POSTs are retried too.
 */
const retry = {
  retries: 2,
  enableRetry: () => true,
  validateRetry: (r: RequestOutcome) => r.responseStatus >= 500 || r.error()?.name === 'TimeoutError',
};
const timeLimit = (ms: number) => () => ({
  async prepareRequest(next: () => Promise<PreparedRequest>) {
    const request = await next();
    return request.timeout() === undefined ? request.enhance({ timeout: ms }) : request;
  },
});

/** The registry client with the settings' credentials and CA (for the codecs and the CLI). */
export function schemaRegistryClient(settings: RegistrySettings): SchemaRegistry {
  const { schemaRegistryUrl: host, schemaRegistryUsername: username, schemaRegistryPassword: password, schemaRegistryCaFile: caFile } = settings;
  return new SchemaRegistry({
    host,
    clientId: 'kscore',
    retry: retry as object,
    middlewares: [timeLimit(settings.schemaRegistryTimeoutMs) as never],
    ...(username !== undefined && password !== undefined ? { auth: { username, password } } : {}),
    ...(caFile !== undefined && host.startsWith('https:') ? { agent: new Agent({ ca: readFileSync(caFile, 'utf8'), keepAlive: true }) as unknown as HttpAgent } : {}),
  });
}

/** The client's request layer (mappersmith), which the adapter uses for the calls it makes itself. */
interface RegistryApi {
  Schema: { find(args: { id: number }): Promise<ApiResponse> };
  Subject: {
    version(args: { subject: string; version: number | string }): Promise<ApiResponse>;
    register(args: { subject: string; body: object }): Promise<ApiResponse>;
  };
}
interface ApiResponse {
  data(): unknown;
}

/** Network failures: the client reports them as status 400 with the system error in the message. */
const UNREACHABLE = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up|timeout/i;

/** What a failed registry request means: the id is unknown, the registry is away (retry), or it refused us (fatal). */
export function classifyRegistryError(err: unknown, schemaId?: number): Error {
  const status = (err as { status?: unknown }).status;
  const message = errorMessage(err);
  const tls = tlsFailure(err) ?? (/certificate|self[- ]signed|SSL/i.test(message) ? message : undefined);
  if (tls !== undefined) return new RegistryRefusedError(`schema registry TLS: ${tls} (check KSCORE_SCHEMA_REGISTRY_CA_FILE)`, err);
  if ((status === 404 || status === 422) && schemaId !== undefined) return new SchemaNotFoundError(schemaId, `schema id ${schemaId} is not in the schema registry`);
  if (status === 401 || status === 403) {
    return new RegistryRefusedError(`the schema registry refused the credentials (HTTP ${status}; check KSCORE_SCHEMA_REGISTRY_USERNAME and KSCORE_SCHEMA_REGISTRY_PASSWORD)`, err);
  }
  if (typeof status !== 'number' || status >= 500 || status === 408 || status === 429 || UNREACHABLE.test(message)) {
    return new TransientError('SCHEMA_REGISTRY_UNAVAILABLE', `schema registry: ${message}`, err);
  }
  return new RegistryRefusedError(`the schema registry refused a request: ${message}`, err);
}

/**
 * The schema registry adapter: the request layer of @kafkajs/confluent-schema-registry (auth, TLS
 * agent, retries) behind the narrow `SchemaSource`, its failures told apart (see `SchemaSource`).
 * Schemas come back as text: the codecs compile them (the library's own Protobuf parsing cannot
 * read what Confluent's serializers register).
 */
export function confluentSchemaSource(settings: RegistrySettings): SchemaSource {
  const api = (schemaRegistryClient(settings) as unknown as { api: RegistryApi }).api;
  return {
    async schemaById(id) {
      const data = await api.Schema.find({ id }).then(
        (r) => r.data(),
        (err: unknown) => {
          throw classifyRegistryError(err, id);
        },
      );
      return schemaTextOf(data, id);
    },
    async subjectVersion(subject, version) {
      const data = await api.Subject.version({ subject, version }).then(
        (r) => r.data() as { id?: unknown; version?: unknown },
        (err: unknown) => {
          if ((err as { status?: unknown }).status === 404) throw new SubjectNotFoundError(subject, version, `subject "${subject}" has no ${version === 'latest' ? 'version' : `version ${version}`} in the schema registry`);
          throw classifyRegistryError(err);
        },
      );
      const id = Number(data.id);
      return { ...schemaTextOf(data, id), id, subject, version: Number(data.version) };
    },
    async register(schema, subject) {
      const body = { schema: schema.schema, ...(schema.type === 'AVRO' ? {} : { schemaType: schema.type }), ...(schema.references.length > 0 ? { references: schema.references } : {}) };
      try {
        return Number(((await api.Subject.register({ subject, body })).data() as { id?: unknown }).id);
      } catch (err) {
        throw registrationError(err, subject);
      }
    },
  };
}

const KINDS: ReadonlySet<string> = new Set<SchemaKind>(['AVRO', 'PROTOBUF', 'JSON']);

/** The registry's answer as a `SchemaText`; a type the service cannot read is unsupported. */
export function schemaTextOf(data: unknown, id: number): SchemaText {
  const d = data as { schema?: unknown; schemaType?: unknown; references?: unknown };
  const type = typeof d.schemaType === 'string' ? d.schemaType.toUpperCase() : 'AVRO';
  if (!KINDS.has(type)) throw new SchemaUnsupportedError(id, type, `schema id ${id} is a ${type} schema; kscore reads Avro, Protobuf and JSON Schema`);
  if (typeof d.schema !== 'string') throw new SchemaUnsupportedError(id, type, `the registry's answer for schema id ${id} has no schema text`);
  const references = Array.isArray(d.references) ? (d.references as SchemaReference[]).map(({ name, subject, version }) => ({ name, subject, version: Number(version) })) : [];
  return { type: type as SchemaKind, schema: d.schema, references };
}

/** A refused registration says which subject and why; 409 is the subject's compatibility rule. */
function registrationError(err: unknown, subject: string): Error {
  const status = (err as { status?: unknown }).status;
  if (status === 409) {
    return new RegistryRefusedError(`the schema registry refused to register the schema under subject "${subject}": it is incompatible with the versions there (HTTP 409); register a compatible version, or turn KSCORE_AUTO_REGISTER_SCHEMAS off and name one with KSCORE_OUTPUT_SCHEMA_ID or KSCORE_OUTPUT_SCHEMA_SUBJECT`, err);
  }
  if (status === 422) return new RegistryRefusedError(`the schema registry refused the schema for subject "${subject}" as invalid (HTTP 422): ${errorMessage(err)}`, err);
  return classifyRegistryError(err);
}
