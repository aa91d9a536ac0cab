import { isAbsolute, normalize, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type {} from '@fastify/swagger';
import { ServiceError } from '../errors.js';
import type { ReplayJobs } from '../replay/index.js';

export interface ReplayRouteDeps {
  jobs: ReplayJobs;
  /** File outputs asked for over HTTP are written under this folder only. */
  outputDir: string;
}

const security = [{ bearer: [] }];
const id = { type: 'object', properties: { id: { type: 'string' } } } as const;

function fail(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof ServiceError) {
    const status = err.code === 'REPLAY_PARAMS' ? 400 : err.code === 'REPLAY_BUSY' ? 409 : err.canRetry ? 503 : 500;
    return reply.code(status).send({ error: err.code, message: err.message });
  }
  throw err;
}

/** Keeps a requested file path inside the output folder; returns the full path or undefined. */
export function confinePath(outputDir: string, requested: string): string | undefined {
  if (isAbsolute(requested) || normalize(requested).split(/[\\/]/).includes('..')) return undefined;
  const root = resolve(outputDir);
  const full = resolve(root, requested);
  return full.startsWith(root + sep) ? full : undefined;
}

/**
 * Replay jobs over HTTP, under /api/v1/replays: start (admin), list and read (read), cancel and
 * resume (admin). Parameters are those of `kscore replay` (docs/replay.md), as JSON.
 */
export function replayRoutes(deps: ReplayRouteDeps): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    app.post<{ Body: Record<string, unknown> }>('/api/v1/replays', {
      config: { role: 'admin' },
      schema: {
        summary: 'Start a replay: score a topic range (offsets or times) with a pinned version or alias',
        description: 'Parameters as in docs/replay.md. A file output path is relative to KSCORE_REPLAY_OUTPUT_DIR.',
        tags: ['replay'],
        security,
        body: { type: 'object', additionalProperties: true },
      },
    }, async (req, reply) => {
      const body = { ...req.body };
      const output = body['output'] as { kind?: string; path?: unknown } | undefined;
      if (output?.kind === 'file') {
        const full = typeof output.path === 'string' ? confinePath(deps.outputDir, output.path) : undefined;
        if (full === undefined) {
          return reply.code(400).send({ error: 'REPLAY_PARAMS', message: 'output.path must be a relative path inside the replay output folder' });
        }
        body['output'] = { ...output, path: full };
      }
      try {
        const jobId = await deps.jobs.start(body);
        return await reply.code(202).send(await deps.jobs.get(jobId));
      } catch (err) {
        return fail(reply, err);
      }
    });

    app.get<{ Querystring: { limit?: number } }>('/api/v1/replays', {
      config: { role: 'read' },
      schema: {
        summary: 'Replay jobs, newest first, with their progress',
        tags: ['replay'],
        security,
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } } },
      },
    }, async (req) => deps.jobs.list(req.query.limit ?? 50));

    app.get<{ Params: { id: string } }>('/api/v1/replays/:id', {
      config: { role: 'read' },
      schema: { summary: 'One replay job: parameters, plan, progress, report', tags: ['replay'], security, params: id },
    }, async (req, reply) => {
      const status = await deps.jobs.get(req.params.id);
      return status ?? reply.code(404).send({ error: 'REPLAY_UNKNOWN', message: `no replay ${req.params.id}` });
    });

    app.post<{ Params: { id: string } }>('/api/v1/replays/:id/cancel', {
      config: { role: 'admin' },
      schema: { summary: 'Stop a replay after the batches in flight (it can be resumed)', tags: ['replay'], security, params: id },
    }, async (req, reply) => {
      const status = await deps.jobs.cancel(req.params.id);
      return status ?? reply.code(404).send({ error: 'REPLAY_UNKNOWN', message: `no replay ${req.params.id}` });
    });

    app.post<{ Params: { id: string } }>('/api/v1/replays/:id/resume', {
      config: { role: 'admin' },
      schema: { summary: 'Resume a stopped replay from its checkpoint', tags: ['replay'], security, params: id },
    }, async (req, reply) => {
      try {
        await deps.jobs.resume(req.params.id);
        return await reply.code(202).send(await deps.jobs.get(req.params.id));
      } catch (err) {
        return fail(reply, err);
      }
    });
  };
}
