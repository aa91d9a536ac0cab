import { NAME_PATTERN } from '../config/names.js';
import { ModelError, ServiceError, errorMessage } from '../errors.js';
import { OnnxScorer } from '../scoring/onnx-scorer.js';
import { contractVerdict, type ContractChecker, type ContractVerdict } from './contracts.js';
import type { ModelStore, ModelVersionMeta, NewModelVersion } from './types.js';


/**
 * Validates a model before anything is written: it must load in onnxruntime, its inputs (read
 * from the model, with their types) must be filled by the declared features or input mapping, its
 * positive class must be one of its classes, and a sample batch must score to finite numbers (see
 * `OnnxScorer.load`), and, with `contracts`, fit the schemas of the topics it would score (or
 * `override` says why it may go ahead: audited). What loading resolved (each input's fields) is
 * stored with the version. A refused model throws a `ModelError` whose message says why; the store is unchanged except for
 * the audit log, which records the refusal.
 */
export async function registerModel(
  store: ModelStore,
  name: string,
  input: NewModelVersion,
  options: { alias?: string; actor?: string; contracts?: ContractChecker | undefined; override?: string | undefined } = {},
): Promise<ModelVersionMeta> {
  const actor = options.actor ?? 'system';
  let spec: OnnxScorer['spec'];
  let verdict: ContractVerdict;
  try {
    checkRequest(name, input, options.alias);
    const scorer = await OnnxScorer.load(input.bytes, input);
    spec = scorer.spec;
    await scorer.release();
    checkBaseline(input, spec.features);
    verdict = await contractVerdict(options.contracts, name, spec, options.override);
  } catch (err) {
    if (err instanceof ServiceError && !err.canRetry && NAME_PATTERN.test(name)) {
      await store.recordRefusal(name, errorMessage(err), actor).catch(() => undefined);
    }
    throw err;
  }
  const { features, inputs, outputs } = spec;
  const { inputs: _mapping, ...request } = input;
  const meta = await store.addVersion(name, { ...request, features, ...(inputs === undefined ? {} : { inputs }), outputs }, actor);
  if (verdict.overridden !== undefined) await store.record({ actor, action: 'contract-override', model: name, version: meta.version, detail: verdict.overridden });
  if (options.alias !== undefined) await store.setAlias(name, options.alias, meta.version, actor);
  return meta;
}

function checkRequest(name: string, input: NewModelVersion, alias: string | undefined): void {
  if (!NAME_PATTERN.test(name)) throw new ModelError('MODEL_NAME', `model name "${name}" must be 1-128 letters, digits, ".", "_" or "-"`);
  if (alias !== undefined && !NAME_PATTERN.test(alias)) throw new ModelError('MODEL_ALIAS', `alias "${alias}" must be 1-128 letters, digits, ".", "_" or "-"`);
  if (input.bytes.length === 0) throw new ModelError('MODEL_EMPTY', 'the model file is empty');
  for (const f of input.features ?? []) {
    if (typeof f !== 'string' || f.length === 0) throw new ModelError('MODEL_FEATURES', 'feature names must be non-empty strings');
  }
  for (const [k, v] of Object.entries(input.metrics ?? {})) {
    if (!Number.isFinite(v)) throw new ModelError('MODEL_METRICS', `training metric "${k}" must be a finite number`);
  }
}

/** Baseline statistics must be of fields the model reads. */
function checkBaseline(input: NewModelVersion, features: readonly string[]): void {
  const known = new Set(features);
  for (const [f, b] of Object.entries(input.baseline ?? {})) {
    if (!known.has(f)) throw new ModelError('MODEL_BASELINE', `baseline statistics name "${f}", which is not a feature`);
    if (b.edges !== undefined && b.shares !== undefined && b.shares.length !== b.edges.length + 1) {
      throw new ModelError('MODEL_BASELINE', `baseline of "${f}" needs one more share than edges`);
    }
  }
}
