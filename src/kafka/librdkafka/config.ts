import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { errorMessage } from '../../errors.js';
import type { KafkaConnection, KafkaSasl, SaslMechanism } from '../connection.js';
import { KAFKA_CODES, kafkaError, type KafkaError } from '../errors.js';
import { notePresentedToken, tokenRefusal } from '../oauth.js';
import { codeOfText, fromLibrdkafka } from './errors.js';
import type { LogEvent, NativeConfig, NativeError } from './native.js';

const run = promisify(execFile);

const MECHANISMS: Record<SaslMechanism, string> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
  oauthbearer: 'OAUTHBEARER',
};

/** What librdkafka's OAUTHBEARER refresh callback must produce. */
export interface OauthToken {
  tokenValue: string;
  /** When it expires, in ms since the epoch (librdkafka asks again at 80 % of it). */
  lifetime: number;
  principal: string;
}

/** A token without an `exp` claim is taken as valid this long (then read again). */
const OPAQUE_TOKEN_LIFETIME_MS = 5 * 60_000;

/**
 * The librdkafka settings of a connection (brokers, client id, TLS, SASL), shared by every client
 * made from it. Hostname verification off keeps the chain check and skips only the name check
 * (`ssl.endpoint.identification.algorithm=none`), like the kafkajs adapter's checkServerIdentity.
 */
export function connectionConfig(connection: KafkaConnection, readToken: (sasl: KafkaSasl) => Promise<OauthToken> = oauthToken): NativeConfig {
  const { tls, sasl } = connection;
  const config: NativeConfig = {
    'bootstrap.servers': connection.brokers.join(','),
    'client.id': connection.clientId,
    'security.protocol': `${sasl === undefined ? '' : 'sasl_'}${tls === undefined ? 'plaintext' : 'ssl'}`,
    // Details of failures (SASL refusals, TLS errors) arrive as log lines; info and above.
    log_level: 6,
  };
  if (tls !== undefined) {
    if (tls.caFile !== undefined) config['ssl.ca.location'] = tls.caFile;
    if (tls.certFile !== undefined) config['ssl.certificate.location'] = tls.certFile;
    if (tls.keyFile !== undefined) config['ssl.key.location'] = tls.keyFile;
    if (tls.keyPassword !== undefined) config['ssl.key.password'] = tls.keyPassword;
    config['ssl.endpoint.identification.algorithm'] = tls.verifyHostname ? 'https' : 'none';
  }
  if (sasl !== undefined) {
    config['sasl.mechanisms'] = MECHANISMS[sasl.mechanism];
    if (sasl.mechanism === 'oauthbearer') {
      // The binding calls this when librdkafka needs a token (at start and at 80 % of its lifetime).
      config['oauthbearer_token_refresh_cb'] = (): Promise<OauthToken> => readToken(sasl);
    } else {
      config['sasl.username'] = sasl.username ?? '';
      config['sasl.password'] = sasl.password ?? '';
    }
  }
  return config;
}

/** The current OAUTHBEARER token: the token file's content, or what the token command prints. */
export async function oauthToken(sasl: KafkaSasl): Promise<OauthToken> {
  const raw =
    sasl.oauthTokenFile !== undefined
      ? await readFile(sasl.oauthTokenFile, 'utf8')
      : sasl.oauthTokenCommand !== undefined
        ? (await run('/bin/sh', ['-c', sasl.oauthTokenCommand])).stdout
        : '';
  const token = tokenOf(raw.trim());
  notePresentedToken(token.tokenValue);
  return token;
}

/** A token with its expiry and principal, read from its claims when it is a JWT. */
export function tokenOf(tokenValue: string, now: number = Date.now()): OauthToken {
  if (tokenValue === '') throw new Error('the OAUTHBEARER token is empty (KSCORE_KAFKA_SASL_OAUTH_TOKEN_FILE or _COMMAND)');
  let claims: { exp?: unknown; sub?: unknown } = {};
  const parts = tokenValue.split('.');
  if (parts.length === 3) {
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      claims = {};
    }
  }
  const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  return {
    tokenValue,
    lifetime: exp !== undefined && exp > now ? exp : now + OPAQUE_TOKEN_LIFETIME_MS,
    principal: typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : 'kscore',
  };
}

/** The events every native client emits that the adapter listens to. */
export interface EventSource {
  on(event: 'event.error', listener: (err: NativeError) => void): unknown;
  on(event: 'event.log', listener: (log: LogEvent) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * What a native client's events say about its connection. librdkafka retries everything itself
 * and reports trouble only as `event.error` (text, no code) and log lines, so this keeps the
 * latest: whether brokers are unreachable, since when authentication keeps failing, and the last
 * problem's text (for error messages). `ok()` is called when a request succeeded.
 */
export class ConnectionWatch {
  /** When the current run of authentication failures began. */
  authFailingSince: number | undefined;
  /** librdkafka's text of the last authentication failure. */
  authDetail: string | undefined;
  /** All broker connections are down (until a request succeeds). */
  down = false;
  /** The last problem reported, for messages. */
  lastProblem: string | undefined;
  private readonly listeners = new Set<(detail: string) => void>();

  constructor(
    client: EventSource,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    client.on('event.error', (err) => this.onText(err.message, 'error'));
    client.on('event.log', (entry) => {
      if (entry.severity <= 4) this.onText(entry.message, 'log');
      else log.debug({ fac: entry.fac }, entry.message);
    });
    // The binding emits 'error' when the OAUTHBEARER refresh callback fails; unhandled, it would crash.
    client.on('error', (err) => this.onText(`authentication failed: ${errorMessage(err)}`, 'error'));
  }

  /** Calls `listener` with librdkafka's text of each authentication failure as it is seen (until the returned function is called). */
  onAuthFailure(listener: (detail: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  ok(): void {
    this.down = false;
    this.authFailingSince = undefined;
  }

  /** Why a request failed, in the service's terms, with librdkafka's own account when it has one. */
  explain(err: unknown, context: string): KafkaError {
    if (this.authFailingSince !== undefined) return kafkaError(KAFKA_CODES.authentication, `${context}: ${this.authDetail ?? 'authentication failed'}`, { cause: err });
    return fromLibrdkafka(err, context, this.lastProblem);
  }

  private onText(raw: string, kind: 'error' | 'log'): void {
    // Log lines start with the thread that wrote them: "[thrd:sasl_ssl://host:port/bootstrap]: ".
    const text = raw.replace(/^\[thrd:[^\]]*\]: /, '');
    const code = codeOfText(text);
    if (/all broker connections are down/i.test(text)) this.down = true;
    if (code === KAFKA_CODES.authentication) {
      // event.error's bare "authentication failure" adds nothing to a log line already seen.
      if (kind === 'log' || this.authDetail === undefined) {
        const refusal = tokenRefusal(text);
        this.authDetail = refusal === '' ? text : `${text} (${refusal})`;
      }
      this.authFailingSince ??= this.now();
      for (const l of this.listeners) l(this.authDetail);
    }
    this.lastProblem = text;
    if (code === KAFKA_CODES.unavailable) this.log.debug({ kafka: text }, 'librdkafka reports a connection problem (it retries)');
    else this.log.warn({ kafka: text }, 'librdkafka reports a problem');
  }
}

/** How long a client's first connection (a metadata request) may take before it counts as failed. */
export const CONNECT_TIMEOUT_MS = 30_000;

interface Connectable {
  connect(options: { timeout?: number }, cb: (err: NativeError | null | undefined, value: unknown) => void): unknown;
  disconnect(cb: (err: unknown, value: unknown) => void): unknown;
}

/**
 * Connects a native client (the binding's connect is a metadata request). An authentication
 * failure ends it at once with one `KafkaError` (librdkafka would retry until the timeout, and
 * then report only a transport failure); the client is closed behind it.
 */
export function connectNative(client: Connectable, watch: ConnectionWatch, what: string, timeoutMs: number = CONNECT_TIMEOUT_MS): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const stop = watch.onAuthFailure((detail) => {
      if (settled) return;
      settled = true;
      stop();
      reject(kafkaError(KAFKA_CODES.authentication, `${what}: ${detail}`));
    });
    client.connect({ timeout: timeoutMs }, (err) => {
      stop();
      if (settled) {
        // Refused already: close what connected meanwhile (a failed connect closes itself).
        if (!err) client.disconnect(() => undefined);
        return;
      }
      settled = true;
      if (err) {
        reject(watch.explain(err, what));
      } else {
        watch.ok();
        resolve();
      }
    });
  });
}
