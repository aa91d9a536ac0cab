import type { BatchOutcomes, PipelineObserver } from '../pipeline/types.js';

/** What the event log uses of a pino logger. */
export interface EventLogger {
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
  isLevelEnabled(level: string): boolean;
}

/**
 * One log line per event the service could not score (warn), and, at debug level, one per
 * prediction: each with the event's topic, partition and offset and the model and version, so a
 * log search can filter on any of them. Lines are written once the sink has the batch, so a line
 * names an outcome that really went out. At info level the cost is one check per batch and one
 * per outcome.
 */
export function eventLog(log: EventLogger): PipelineObserver {
  return {
    batchDelivered: ({ topic, partition, outcomes }: BatchOutcomes) => {
      const debug = log.isLevelEnabled('debug');
      for (const o of outcomes) {
        if (o.kind === 'dead-letter') {
          log.warn({ topic, partition, offset: o.source.offset, model: o.model, version: o.version, reason: o.reason, detail: o.detail }, 'event dead-lettered');
        } else if (debug) {
          const p = o.prediction;
          log.debug({ topic, partition, offset: o.source.offset, model: p.model, version: p.version, role: o.role, score: p.score, label: p.label }, 'event scored');
        }
      }
    },
  };
}
