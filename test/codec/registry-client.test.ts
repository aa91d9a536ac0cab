/**
 * The registry adapter's time limit, against a local HTTP server that leaves requests unanswered:
 * a stalled request is abandoned and sent again, and a registry that never answers is reported
 * as away (retryable), not waited on for ever.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { confluentSchemaSource } from '../../src/codec/registry-client.js';
import { TransientError } from '../../src/errors.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A registry whose first `stalls` requests get no answer; later ones get `answer`. Counts requests. */
async function registry(stalls: number, answer: object): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests++;
    req.resume();
    if (requests <= stalls) return;
    res.setHeader('content-type', 'application/vnd.schemaregistry.v1+json');
    res.end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

function sourceAt(url: string) {
  return confluentSchemaSource({ schemaRegistryUrl: url, schemaRegistryUsername: undefined, schemaRegistryPassword: undefined, schemaRegistryCaFile: undefined, schemaRegistryTimeoutMs: 150 });
}

describe('confluentSchemaSource time limit', () => {
  it('sends a lookup again when the registry leaves it unanswered, and returns the answer', async () => {
    const r = await registry(1, { schema: '"string"' });
    await expect(sourceAt(r.url).schemaById(7)).resolves.toEqual({ type: 'AVRO', schema: '"string"', references: [] });
    expect(r.requests()).toBe(2);
  });

  it('sends a registration again too (registering is idempotent), and returns its id', async () => {
    const r = await registry(1, { id: 42 });
    await expect(sourceAt(r.url).register({ type: 'AVRO', schema: '"string"', references: [] }, 'subject-a')).resolves.toBe(42);
    expect(r.requests()).toBe(2);
  });

  it('reports a registry that never answers as away (retryable) after three attempts', async () => {
    const r = await registry(Number.POSITIVE_INFINITY, {});
    const failure = await sourceAt(r.url).schemaById(7).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(TransientError);
    expect((failure as Error).message).toMatch(/schema registry: .*Timeout \(150ms\)/);
    expect(r.requests()).toBe(3);
  });
});
