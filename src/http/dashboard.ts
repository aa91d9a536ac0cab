import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Content types of the files the dashboard serves; other files in the folder are not served. */
const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Everything the page loads comes from the service itself: the browser is told so, and a
 * dashboard opened on a machine without internet looks the same.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export interface DashboardOptions {
  /** Folder of the page's files; default: `dashboard/` beside this module. */
  dir?: string;
}

async function loadAssets(dir: string): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const name of (await readdir(dir)).sort()) {
    const type = TYPES[extname(name)];
    if (type === undefined) continue;
    const body = await readFile(join(dir, name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(name, { body, type, etag });
  }
  if (!assets.has('index.html')) throw new Error(`the dashboard folder ${dir} has no index.html`);
  return assets;
}

function send(req: FastifyRequest, reply: FastifyReply, asset: Asset, headers: Record<string, string> = {}): FastifyReply {
  // The files are not fingerprinted: the browser keeps them but asks each time (a 304 costs
  // nothing), so a new release of the service is picked up on the next load.
  void reply
    .headers(headers)
    .header('content-type', asset.type)
    .header('cache-control', 'no-cache')
    .header('etag', asset.etag)
    .header('x-content-type-options', 'nosniff');
  if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.send(asset.body);
}

/**
 * The live dashboard at `/dashboard`: a static page (HTML, JS, CSS, no external asset) that polls
 * the service's own `/metrics` and computes rates and quantiles in the browser. The files are
 * read once, when the plugin is registered.
 */
export function dashboardRoutes(options: DashboardOptions = {}): (app: FastifyInstance) => Promise<void> {
  const dir = options.dir ?? fileURLToPath(new URL('./dashboard/', import.meta.url));
  return async (app) => {
    const assets = await loadAssets(dir);
    const index = assets.get('index.html')!;
    const route = { logLevel: 'warn' as const, schema: { hide: true } };

    app.get('/dashboard', route, async (req, reply) => send(req, reply, index, { 'content-security-policy': CSP }));
    // The page's links are relative to /dashboard; from /dashboard/ they would miss.
    app.get('/dashboard/', route, async (_req, reply) => reply.redirect('../dashboard', 301));
    app.get<{ Params: { file: string } }>('/dashboard/:file', route, async (req, reply) => {
      const asset = req.params.file === 'index.html' ? undefined : assets.get(req.params.file);
      if (asset === undefined) return reply.code(404).send({ error: 'NOT_FOUND', message: `no dashboard file ${req.params.file}` });
      return send(req, reply, asset);
    });
  };
}
