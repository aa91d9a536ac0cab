import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { dashboardRoutes } from '../../src/http/dashboard.js';

const assetsDir = fileURLToPath(new URL('../../src/http/dashboard/', import.meta.url));

describe('dashboard routes', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify();
    await dashboardRoutes()(app);
    await app.ready();
  });
  afterAll(() => app.close());

  it('serves the page with its content type, a revalidating cache policy and a same-origin CSP', async () => {
    const res = await app.inject({ method: 'GET', url: '/dashboard' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['etag']).toMatch(/^"[\w-]{22}"$/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(res.body).toBe(await readFile(join(assetsDir, 'index.html'), 'utf8'));
  });

  it('serves each asset with the right content type', async () => {
    const types: Record<string, string> = {
      'app.js': 'text/javascript; charset=utf-8',
      'charts.js': 'text/javascript; charset=utf-8',
      'format.js': 'text/javascript; charset=utf-8',
      'metrics-parse.js': 'text/javascript; charset=utf-8',
      'style.css': 'text/css; charset=utf-8',
      'icon.svg': 'image/svg+xml',
    };
    for (const [file, type] of Object.entries(types)) {
      const res = await app.inject({ method: 'GET', url: `/dashboard/${file}` });
      expect(res.statusCode, file).toBe(200);
      expect(res.headers['content-type'], file).toBe(type);
      expect(res.body).toBe(await readFile(join(assetsDir, file), 'utf8'));
    }
  });

  it('answers 304 to a request that has the current ETag', async () => {
    const first = await app.inject({ method: 'GET', url: '/dashboard/app.js' });
    const again = await app.inject({ method: 'GET', url: '/dashboard/app.js', headers: { 'if-none-match': String(first.headers['etag']) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const stale = await app.inject({ method: 'GET', url: '/dashboard/app.js', headers: { 'if-none-match': '"old"' } });
    expect(stale.statusCode).toBe(200);
  });

  it('serves nothing else: type declarations, unknown files and paths outside the folder are 404', async () => {
    for (const url of ['/dashboard/metrics-parse.d.ts', '/dashboard/nope.js', '/dashboard/..%2Fdashboard.ts', '/dashboard/index.html']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
    }
  });

  it('sends /dashboard/ to /dashboard, where the relative links resolve', async () => {
    const res = await app.inject({ method: 'GET', url: '/dashboard/' });
    expect(res.statusCode).toBe(301);
    expect(new URL(String(res.headers['location']), 'http://h/dashboard/').pathname).toBe('/dashboard');
  });

  it('needs nothing from the internet: every asset link is relative, no file names another host', async () => {
    const files = (await readdir(assetsDir)).filter((f) => /\.(html|js|css|svg)$/.test(f));
    for (const file of files) {
      const text = await readFile(join(assetsDir, file), 'utf8');
      // The one absolute URL allowed is the SVG namespace, which is a name, not a download.
      const urls = [...text.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi)].map((m) => m[0]).filter((u) => !u.endsWith('www.w3.org/2000/svg'));
      expect(urls, file).toEqual([]);
      expect(text, file).not.toMatch(/@import|@font-face/);
    }
    const html = await readFile(join(assetsDir, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(3);
    for (const ref of refs) {
      if (ref === 'metrics') continue;
      const res = await app.inject({ method: 'GET', url: new URL(ref, 'http://h/dashboard').pathname });
      expect(res.statusCode, ref).toBe(200);
    }
  });

  it('reads the files once, when registered', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kscore-dash-'));
    try {
      await writeFile(join(dir, 'index.html'), '<p>one</p>');
      const own = Fastify();
      await dashboardRoutes({ dir })(own);
      await writeFile(join(dir, 'index.html'), '<p>two</p>');
      expect((await own.inject({ method: 'GET', url: '/dashboard' })).body).toBe('<p>one</p>');
      await own.close();
      await rm(join(dir, 'index.html'));
      await expect(dashboardRoutes({ dir })(Fastify())).rejects.toThrow(/no index.html/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
