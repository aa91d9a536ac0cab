import type { FastifyReply } from 'fastify';
import { ModelError, ServiceError } from '../errors.js';

/** HTTP status of a service error code, where the code decides it. */
const STATUS: Readonly<Record<string, number>> = {
  MODEL_VERSION_UNKNOWN: 404,
  MODEL_NO_PREVIOUS: 409,
  MODEL_CONTRACT: 409,
  REPLAY_PARAMS: 400,
  REPLAY_BUSY: 409,
  REPLAY_LIMIT: 429,
  SCHEDULE_PARAMS: 400,
  SCHEDULE_UNKNOWN: 404,
  SCHEDULE_EXISTS: 409,
  SCHEDULE_RUN_EXISTS: 409,
};

/**
 * The one mapping of errors to HTTP answers for every route: a known code has its status, a
 * refused model is 422, what a retry can fix 503, anything else of ours 500, all as
 * `{error: code, message}`. An error that is not a ServiceError is a bug: it is rethrown (fastify
 * answers 500 and logs it).
 */
export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (!(err instanceof ServiceError)) throw err;
  const status = STATUS[err.code] ?? (err.canRetry ? 503 : err instanceof ModelError ? 422 : 500);
  return reply.code(status).send({ error: err.code, message: err.message });
}
