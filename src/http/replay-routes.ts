import type { FastifyInstance } from 'fastify';
import type {} from '@fastify/swagger';
import { sendError } from './errors.js';
import type { ReplayJobs } from '../replay/index.js';
import { confinePath } from '../replay/paths.js';

export interface ReplayRouteDeps {
  jobs: ReplayJobs;
  /** File outputs asked for over HTTP are written under this folder only. */
  outputDir: string;
  /** Topics replays started over HTTP may read and write (default: any). */
  allowTopic?: (topic: string) => boolean;
}

const security = [{ bearer: [] }];
const id = { type: 'object', properties: { id: { type: 'string' } } } as const;

/**
 * Replay jobs over HTTP, under /api/v1/replays: start (admin), list and read (read), cancel and
 * resume (admin). Parameters are those of `kscore replay` (docs/replay.md), as JSON.
 */
export function replayRoutes(deps: ReplayRouteDeps): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    replayStart(app, deps);
    replayReads(app, deps);
    replayControl(app, deps);
  };
}

/** Start a job; a file output is confined to the replay output folder. */
function replayStart(app: FastifyInstance, deps: ReplayRouteDeps): void {
  app.post<{ Body: Record<string, unknown> }>('/api/v1/replays', {
    config: { role: 'admin' },
    schema: {
      summary: 'Start a replay: score a topic range (offsets or times) with a pinned version or alias',
      description:
        'Parameters as in docs/replay.md. A file output path is relative to KSCORE_REPLAY_OUTPUT_DIR. Without an output the job writes into the backfill topics; ' +
        'into the live predictions topic only with output.live, recorded in the audit log with the token owner.',
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
      const jobId = await deps.jobs.start(body, { ...(deps.allowTopic === undefined ? {} : { allowTopic: deps.allowTopic }), ...(req.actor === undefined ? {} : { actor: req.actor }) });
      return await reply.code(202).send(await deps.jobs.get(jobId));
    } catch (err) {
      return sendError(reply, err);
    }
  });
}

/** The jobs, and one job. */
function replayReads(app: FastifyInstance, deps: ReplayRouteDeps): void {
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
}

/** Cancel and resume. */
function replayControl(app: FastifyInstance, deps: ReplayRouteDeps): void {
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
      return sendError(reply, err);
    }
  });
}
