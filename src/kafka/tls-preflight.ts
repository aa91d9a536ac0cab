import { readFileSync } from 'node:fs';
import { connect, type ConnectionOptions } from 'node:tls';
import type { KafkaConnection } from './connection.js';
import { KAFKA_CODES, kafkaError, tlsFailure } from './errors.js';

/**
 * One TLS handshake with the first broker that answers, before a client is made: a certificate
 * the settings do not trust (or a name that does not match) fails at once with a clear error,
 * where a client would retry the connection for a minute first. A broker that cannot be reached
 * is not an error here (the clients wait it out).
 */
export async function tlsPreflight(connection: KafkaConnection, timeoutMs = 5_000): Promise<void> {
  const tls = connection.tls;
  if (tls === undefined) return;
  const options: ConnectionOptions = {
    rejectUnauthorized: true,
    ...(tls.caFile === undefined ? {} : { ca: readFileSync(tls.caFile, 'utf8') }),
    ...(tls.certFile === undefined ? {} : { cert: readFileSync(tls.certFile, 'utf8') }),
    ...(tls.keyFile === undefined ? {} : { key: readFileSync(tls.keyFile, 'utf8') }),
    ...(tls.keyPassword === undefined ? {} : { passphrase: tls.keyPassword }),
    ...(tls.verifyHostname ? {} : { checkServerIdentity: () => undefined }),
  };
  for (const broker of connection.brokers) {
    const at = broker.lastIndexOf(':');
    const host = broker.slice(0, at);
    const outcome = await handshake({ ...options, host, port: Number(broker.slice(at + 1)), servername: isIp(host) ? undefined : host }, timeoutMs);
    if (outcome === 'ok') return;
    if (outcome !== 'unreachable') throw kafkaError(KAFKA_CODES.authentication, `TLS to ${broker}: ${outcome}`);
  }
}

function handshake(options: ConnectionOptions, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    // With TLS 1.3 a broker that refuses the client's certificate says so just after the
    // handshake: wait a moment for its alert before calling the connection good.
    const socket = connect(options, () => {
      setTimeout(() => {
        socket.destroy();
        resolve('ok');
      }, 300);
    });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve('unreachable');
    });
    socket.once('error', (err) => {
      socket.destroy();
      resolve(tlsFailure(err) ?? 'unreachable');
    });
  });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
