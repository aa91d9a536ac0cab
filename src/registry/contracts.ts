import { eventShape, type FieldShape } from '../codec/fields.js';
import { referencedSchemas } from '../codec/references.js';
import { SubjectNotFoundError } from '../codec/errors.js';
import type { SchemaSource, SubjectVersion } from '../codec/types.js';
import type { Config } from '../config/index.js';
import { routeTable } from '../config/routes.js';
import { ModelError, ServiceError, errorMessage } from '../errors.js';
import { featureLocation, type FeatureLocation } from '../scoring/feature-paths.js';
import { checkContract, type ModelReads } from './contract.js';
import type { ModelStore } from './types.js';

/** One topic a model reads, held against the latest schema of its subject. */
export interface ContractReport {
  readonly topic: string;
  readonly subject: string;
  /** The subject's version checked; absent when nothing was checked (see `notes`). */
  readonly version?: number;
  readonly mismatches: string[];
  readonly notes: string[];
}

/** Checks a model against the schemas of the topics it would score. */
export interface ContractChecker {
  check(model: string, reads: ModelReads): Promise<ContractReport[]>;
}

export interface ContractSettings {
  /** The feature topics a model is scored from (none: the model is not served here, nothing to check). */
  topicsOf(model: string): readonly string[];
  subjectOf(topic: string): string;
  location: FeatureLocation;
  /** Events cannot be read without the registry: its outage is an error to retry, not a check to skip. */
  registryRequired: boolean;
}

/** Schema contracts over a registry: the latest schema of each topic's subject, read as the codecs read events. */
export function schemaContracts(source: SchemaSource, settings: ContractSettings): ContractChecker {
  const one = async (topic: string, reads: ModelReads): Promise<ContractReport> => {
    const subject = settings.subjectOf(topic);
    let latest: SubjectVersion;
    try {
      latest = await source.subjectVersion(subject, 'latest');
    } catch (err) {
      if (err instanceof SubjectNotFoundError) return { topic, subject, mismatches: [], notes: [`subject "${subject}" is not in the schema registry: not checked`] };
      if (err instanceof ServiceError && err.canRetry && !settings.registryRequired) return { topic, subject, mismatches: [], notes: [`the schema registry cannot be reached (${errorMessage(err)}): not checked`] };
      throw err;
    }
    const { version } = latest;
    let shape: FieldShape;
    try {
      shape = eventShape(latest, await referencedSchemas(latest.id, latest, source));
    } catch (err) {
      if (err instanceof ServiceError && err.canRetry) throw err;
      return { topic, subject, version, mismatches: [`the schema cannot be read: ${errorMessage(err)}`], notes: [] };
    }
    return { topic, subject, version, ...checkContract(reads, shape, settings.location) };
  };
  return {
    async check(model, reads) {
      return Promise.all(settings.topicsOf(model).map((t) => one(t, reads)));
    },
  };
}

/**
 * The service's contracts: each model against the topics its routes read, under `<topic>-value`
 * or the subject set (`{topic}` in it stands for each topic: the topic-record strategy).
 */
export function contractsFor(config: Config, source: SchemaSource): ContractChecker | undefined {
  if (config.schemaContracts === 'off') return undefined;
  const table = routeTable(config);
  return schemaContracts(source, {
    topicsOf: (model) => [...new Set(table.routes.filter((r) => r.model === model).map((r) => r.topic))],
    subjectOf: (topic) => config.inputSchemaSubject?.replaceAll('{topic}', topic) ?? `${topic}-value`,
    location: featureLocation(config.featuresField, config.featurePaths),
    registryRequired: config.inputFormat === 'confluent' || config.inputFormat === 'avro',
  });
}

/** The checks' verdict: the reports, and the mismatches an override let through. */
export interface ContractVerdict {
  readonly reports: ContractReport[];
  readonly overridden?: string;
}

/**
 * Holds a model against its contracts. A mismatch refuses it with `MODEL_CONTRACT` (HTTP 409),
 * unless `override` (the reason for going ahead) is given: then the verdict says what it let through.
 */
export async function contractVerdict(checker: ContractChecker | undefined, model: string, reads: ModelReads, override: string | undefined): Promise<ContractVerdict> {
  if (checker === undefined) return { reports: [] };
  const reports = await checker.check(model, reads);
  const broken = reports.filter((r) => r.mismatches.length > 0);
  if (broken.length === 0) return { reports };
  const what = broken.map((r) => `topic ${r.topic} (subject "${r.subject}"${r.version === undefined ? '' : ` version ${r.version}`}): ${r.mismatches.join('; ')}`).join(' | ');
  if (override === undefined || override.trim() === '') {
    throw new ModelError('MODEL_CONTRACT', `model ${model} does not fit the schema of the events it would score: ${what}; fix the model or the schema, or override with a reason`);
  }
  return { reports, overridden: `override "${override}" of: ${what}` };
}

/**
 * Promotion: points `alias` at `version` once the version fits its contracts (or an override
 * says why it may go ahead, which the audit log records). A refusal is audited too.
 */
export async function promoteVersion(
  store: ModelStore,
  checker: ContractChecker | undefined,
  request: { model: string; alias: string; version: string; actor: string; override?: string | undefined },
): Promise<ContractReport[]> {
  const { model, alias, version, actor, override } = request;
  const meta = await store.getMeta(model, version);
  if (meta === undefined) throw new ModelError('MODEL_VERSION_UNKNOWN', `model ${model} has no version ${version}`);
  let verdict: ContractVerdict;
  try {
    verdict = await contractVerdict(checker, model, meta, override);
  } catch (err) {
    if (err instanceof ModelError) await store.recordRefusal(model, err.message, actor).catch(() => undefined);
    throw err;
  }
  await store.setAlias(model, alias, version, actor);
  if (verdict.overridden !== undefined) await store.record({ actor, action: 'contract-override', model, version, alias, detail: verdict.overridden });
  return verdict.reports;
}
