import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { KafkaConnection } from '../../../src/kafka/connection.js';
import { ConnectionWatch, connectionConfig, oauthToken, tokenOf } from '../../../src/kafka/librdkafka/config.js';

const base: KafkaConnection = { client: 'librdkafka', brokers: ['b1:9092', 'b2:9092'], clientId: 'kscore-x' };

describe('librdkafka settings of a connection', () => {
  it('plaintext: brokers, client id, no security keys', () => {
    const c = connectionConfig(base);
    expect(c).toMatchObject({ 'bootstrap.servers': 'b1:9092,b2:9092', 'client.id': 'kscore-x', 'security.protocol': 'plaintext' });
    expect(Object.keys(c).filter((k) => k.startsWith('ssl.') || k.startsWith('sasl.'))).toEqual([]);
  });

  it('TLS with a CA, a client certificate and hostname checks off', () => {
    const c = connectionConfig({ ...base, tls: { caFile: 'ca.pem', certFile: 'c.pem', keyFile: 'c.key', keyPassword: 'pw', verifyHostname: false } });
    expect(c).toMatchObject({
      'security.protocol': 'ssl',
      'ssl.ca.location': 'ca.pem',
      'ssl.certificate.location': 'c.pem',
      'ssl.key.location': 'c.key',
      'ssl.key.password': 'pw',
      'ssl.endpoint.identification.algorithm': 'none',
    });
    expect(connectionConfig({ ...base, tls: { verifyHostname: true } })).toMatchObject({ 'ssl.endpoint.identification.algorithm': 'https' });
    expect(connectionConfig({ ...base, tls: { verifyHostname: true } })['ssl.ca.location']).toBeUndefined();
  });

  it.each([
    ['plain', 'PLAIN'],
    ['scram-sha-256', 'SCRAM-SHA-256'],
    ['scram-sha-512', 'SCRAM-SHA-512'],
  ] as const)('SASL %s over TLS and without', (mechanism, name) => {
    const sasl = { mechanism, username: 'u', password: 'p' };
    expect(connectionConfig({ ...base, sasl, tls: { verifyHostname: true } })).toMatchObject({ 'security.protocol': 'sasl_ssl', 'sasl.mechanisms': name, 'sasl.username': 'u', 'sasl.password': 'p' });
    expect(connectionConfig({ ...base, sasl })).toMatchObject({ 'security.protocol': 'sasl_plaintext' });
  });

  it('OAUTHBEARER: a refresh callback that reads the token file each time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kscore-oauth-'));
    const file = join(dir, 'token');
    const jwt = (claims: object): string => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;
    writeFileSync(file, `${jwt({ sub: 'svc', exp: 4_000_000_000 })}\n`);
    const c = connectionConfig({ ...base, sasl: { mechanism: 'oauthbearer', oauthTokenFile: file }, tls: { verifyHostname: true } });
    expect(c).toMatchObject({ 'security.protocol': 'sasl_ssl', 'sasl.mechanisms': 'OAUTHBEARER' });
    expect(c['sasl.username']).toBeUndefined();
    const refresh = c['oauthbearer_token_refresh_cb'] as () => Promise<{ tokenValue: string; lifetime: number; principal: string }>;
    expect(await refresh()).toEqual({ tokenValue: jwt({ sub: 'svc', exp: 4_000_000_000 }), lifetime: 4_000_000_000_000, principal: 'svc' });
    writeFileSync(file, 'opaque-token');
    const t = await refresh();
    expect(t.tokenValue).toBe('opaque-token');
    expect(t.principal).toBe('kscore');
    expect(t.lifetime).toBeGreaterThan(Date.now());
  });

  it('OAUTHBEARER: or what a command prints', async () => {
    expect((await oauthToken({ mechanism: 'oauthbearer', oauthTokenCommand: 'echo tok-123' })).tokenValue).toBe('tok-123');
    await expect(oauthToken({ mechanism: 'oauthbearer', oauthTokenCommand: 'true' })).rejects.toThrow(/empty/);
  });

  it('a JWT without exp, or expired, is taken for a few minutes', () => {
    const now = 1_000_000;
    expect(tokenOf('a.b.c', now).lifetime).toBe(now + 5 * 60_000);
    const expired = `h.${Buffer.from(JSON.stringify({ exp: 1 })).toString('base64url')}.s`;
    expect(tokenOf(expired, now).lifetime).toBe(now + 5 * 60_000);
  });
});

describe('what a client events say about its connection', () => {
  function fakeClient(): { emit: (event: string, arg: unknown) => void; on: (event: string, l: (arg: never) => void) => unknown } {
    const listeners = new Map<string, ((arg: never) => void)[]>();
    return {
      on: (event, l) => listeners.set(event, [...(listeners.get(event) ?? []), l]),
      emit: (event, arg) => listeners.get(event)?.forEach((l) => l(arg as never)),
    };
  }

  it('keeps librdkafka authentication detail, when it began, and clears on success', () => {
    const client = fakeClient();
    let now = 100;
    const watch = new ConnectionWatch(client as never, pino({ level: 'silent' }), () => now);
    const seen: string[] = [];
    watch.onAuthFailure((d) => seen.push(d));
    client.emit('event.log', { severity: 3, fac: 'FAIL', message: 'b: SASL authentication error: Authentication failed during authentication due to invalid credentials' });
    now = 200;
    client.emit('event.error', { code: -1, message: 'authentication failure' });
    expect(watch.authFailingSince).toBe(100);
    expect(watch.authDetail).toMatch(/invalid credentials/);
    expect(seen).toHaveLength(2);
    client.emit('event.error', { code: -1, message: 'all broker connections are down' });
    expect(watch.down).toBe(true);
    expect(watch.explain({ code: -195, message: 'broker transport failure' }, 'connecting').code).toBe('KAFKA_AUTHENTICATION');
    watch.ok();
    expect(watch.authFailingSince).toBeUndefined();
    expect(watch.down).toBe(false);
    expect(watch.explain({ code: -195, message: 'broker transport failure' }, 'connecting').code).toBe('KAFKA_UNAVAILABLE');
  });

  it('listens to the binding error event (an OAUTHBEARER refresh that failed), which would crash unhandled', () => {
    const client = fakeClient();
    const watch = new ConnectionWatch(client as never, pino({ level: 'silent' }));
    client.emit('error', new Error('oauthbearer_token_refresh_cb: ENOENT'));
    expect(watch.authFailingSince).toBeDefined();
  });
});
