import type { FastifyInstance } from 'fastify';
import type {} from '@fastify/swagger';
import { timeSchema } from '../replay/types.js';
import type { Schedules } from '../schedule/index.js';
import { sendError } from './errors.js';

const security = [{ bearer: [] }];
const id = { type: 'object', properties: { id: { type: 'string' } } } as const;
const tags = ['schedules'];

/**
 * Schedules over HTTP, under /api/v1/schedules: create, pause, resume, delete and run now (admin),
 * list and show with their history (read). Bodies as in docs/schedules.md; every change is in the
 * audit log with the token's owner.
 */
export function scheduleRoutes(schedules: Schedules): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    scheduleReads(app, schedules);
    scheduleChanges(app, schedules);
    scheduleRun(app, schedules);
  };
}

const actor = (req: { actor?: string }): string => req.actor ?? 'unknown';

/** List, and one schedule with its history. */
function scheduleReads(app: FastifyInstance, schedules: Schedules): void {
  app.get('/api/v1/schedules', {
    config: { role: 'read' },
    schema: { summary: 'Schedules with their next firing and last run', tags, security },
  }, async () => schedules.list());

  app.get<{ Params: { id: string }; Querystring: { limit?: number } }>('/api/v1/schedules/:id', {
    config: { role: 'read' },
    schema: {
      summary: "One schedule and its history (each run's job, range, counts and outcome), newest first",
      tags,
      security,
      params: id,
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10000, default: 20 } } },
    },
  }, async (req, reply) => {
    const s = await schedules.get(req.params.id, req.query.limit ?? 20);
    return s ?? reply.code(404).send({ error: 'SCHEDULE_UNKNOWN', message: `no schedule ${req.params.id}` });
  });
}

/** Create, pause, resume and delete. */
function scheduleChanges(app: FastifyInstance, schedules: Schedules): void {
  app.post<{ Body: Record<string, unknown> }>('/api/v1/schedules', {
    config: { role: 'admin' },
    schema: {
      summary: 'Create a schedule: a replay template, a cron expression with a time zone, and a relative range',
      description: 'See docs/schedules.md. A file output path is relative to KSCORE_REPLAY_OUTPUT_DIR and may hold {date}, {hour}, {start}, {firing}, {schedule}.',
      tags,
      security,
      body: { type: 'object', additionalProperties: true },
    },
  }, async (req, reply) => {
    try {
      return await reply.code(201).send(await schedules.create(req.body, actor(req)));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  for (const [action, verb] of [['pause', 'Pause'], ['resume', 'Resume']] as const) {
    app.post<{ Params: { id: string } }>(`/api/v1/schedules/:id/${action}`, {
      config: { role: 'admin' },
      schema: { summary: `${verb} a schedule${action === 'resume' ? ' (missed firings follow its catch-up policy)' : ''}`, tags, security, params: id },
    }, async (req, reply) => {
      try {
        return await schedules[action](req.params.id, actor(req));
      } catch (err) {
        return sendError(reply, err);
      }
    });
  }

  app.delete<{ Params: { id: string } }>('/api/v1/schedules/:id', {
    config: { role: 'admin' },
    schema: { summary: 'Delete a schedule and its history (a run in progress goes on as a plain replay job)', tags, security, params: id },
  }, async (req, reply) => {
    try {
      await schedules.delete(req.params.id, actor(req));
      return await reply.code(204).send();
    } catch (err) {
      return sendError(reply, err);
    }
  });
}

/** Run now, for a firing time or now. */
function scheduleRun(app: FastifyInstance, schedules: Schedules): void {
  app.post<{ Params: { id: string }; Body: { at?: unknown } | undefined }>('/api/v1/schedules/:id/run', {
    config: { role: 'admin' },
    schema: {
      summary: 'Run now: ask for a run of the firing `at` (default now); a failed firing given again is retried from its checkpoint',
      tags,
      security,
      params: id,
      body: { type: 'object', additionalProperties: false, properties: { at: { anyOf: [{ type: 'string' }, { type: 'integer' }] } } },
    },
  }, async (req, reply) => {
    try {
      const at = req.body?.at === undefined ? undefined : timeSchema.safeParse(req.body.at);
      if (at !== undefined && !at.success) return await reply.code(400).send({ error: 'SCHEDULE_PARAMS', message: 'at must be epoch ms or an ISO-8601 time with a zone' });
      return await reply.code(202).send(await schedules.runNow(req.params.id, actor(req), at?.data));
    } catch (err) {
      return sendError(reply, err);
    }
  });
}
