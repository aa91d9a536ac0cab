import { describe, expect, it } from 'vitest';
import { registeredRoutes } from '../../src/http/server.js';
import { logistic } from '../../src/modelgen/models.js';
import { cleanupAfterEach } from '../support/cleanup.js';
import { testConfig } from '../support/harness.js';
import { READ_TOKEN, TEST_TOKENS, register, startService } from '../support/service.js';

const cleanups = cleanupAfterEach();

describe('access to the HTTP API', () => {
  it('refuses every /api route of the real service without a token, and every write with a read token, unless it is marked public', async () => {
    const config = testConfig({ apiTokens: TEST_TOKENS });
    await register(config, logistic(4, 1), 'production');
    const { service, url } = await startService(config, cleanups);
    const api = registeredRoutes(service.httpServer).filter((r) => r.url.startsWith('/api/') && r.method !== 'HEAD' && r.method !== 'OPTIONS');
    // The walk covers what the service serves: the registry, the audit log and replays at least.
    expect(api.length).toBeGreaterThanOrEqual(15);
    expect(new Set(api.map((r) => r.url.split('/')[3]))).toEqual(new Set(['models', 'audit', 'replays', 'schedules']));
    for (const r of api) {
      const path = r.url.replace(/:(\w+)/g, 'x');
      const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : '{}';
      const anonymous = await fetch(`${url}${path}`, { method: r.method, ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}) });
      if (r.public === true) continue;
      expect(anonymous.status, `${r.method} ${r.url} without a token`).toBe(401);
      if (r.role === 'read') continue;
      const reader = await fetch(`${url}${path}`, { method: r.method, headers: { authorization: `Bearer ${READ_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body } : {}) });
      expect(reader.status, `${r.method} ${r.url} with a read token`).toBe(403);
    }
  });
});
