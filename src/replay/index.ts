export { ReplayJobs, type ReplayJobsDeps } from './jobs.js';
export { ReplayMetrics } from './metrics.js';
export { parseReplayParams } from './params.js';
export { ReplayParamsError } from './range.js';
export { ReplayBusyError } from './runner.js';
export { formatReport } from './compare.js';
export {
  replayParamsSchema,
  type CompareReport,
  type ReplayParams,
  type ReplayParamsInput,
  type ReplayPlan,
  type ReplayProgress,
  type ReplayState,
  type ReplayStatus,
} from './types.js';
