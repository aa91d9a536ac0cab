import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { ServiceError, asError, errorMessage } from '../errors.js';
import type { FromThread, ThreadInit, ToThread } from './protocol.js';
import { ReplayWorker } from './worker.js';

/** The body of a replay worker thread: one ReplayWorker talking to the coordinator over the port. */
const port = parentPort;
if (port === null) throw new Error('thread-entry runs in a worker thread');
const init = workerData as ThreadInit;
// Logs go straight to stderr: stdout is the CLI's (reports, JSON).
const log = pino({ level: init.logLevel, base: { service: 'kscore', component: 'replay', thread: init.index } }, pino.destination(2));

const post = (m: FromThread): void => {
  if (m.type === 'pairs') port.postMessage(m, [m.pairs.scoreA.buffer as ArrayBuffer, m.pairs.scoreB.buffer as ArrayBuffer]);
  else port.postMessage(m);
  if (m.type === 'stopped') setImmediate(() => process.exit(0));
};

ReplayWorker.start(init, post, log).then(
  (worker) => port.on('message', (m: ToThread) => worker.handle(m)),
  (err: unknown) => {
    log.error({ err: asError(err) }, 'replay thread could not start');
    post({ type: 'failed', message: errorMessage(err), code: err instanceof ServiceError ? err.code : undefined });
  },
);
