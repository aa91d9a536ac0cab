import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../errors.js';
import { jsonlToParquet } from './parquet.js';

/** The body of the Parquet conversion thread (see threads.ts). */
const { from, to } = workerData as { from: string; to: string };
jsonlToParquet(from, to).then(
  ({ rows }) => parentPort!.postMessage({ rows }),
  (err: unknown) => parentPort!.postMessage({ error: errorMessage(err) }),
);
