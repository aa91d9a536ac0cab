import type { FeaturePath } from '../config/index.js';

/**
 * Where a model's features are in a decoded event: each at `base` + its name, unless it has a
 * path of its own (from the event's top level). Set from `KSCORE_FEATURES_FIELD` and
 * `KSCORE_FEATURE_PATHS`; the row writer compiles it into property reads.
 */
export interface FeatureLocation {
  readonly base: readonly string[];
  readonly paths: ReadonlyMap<string, readonly string[]>;
}

export const TOP_LEVEL: FeatureLocation = { base: [], paths: new Map() };

export function featureLocation(featuresField: string | undefined, featurePaths: readonly FeaturePath[] = []): FeatureLocation {
  if (featuresField === undefined && featurePaths.length === 0) return TOP_LEVEL;
  return { base: featuresField?.split('.') ?? [], paths: new Map(featurePaths.map((p) => [p.feature, p.path])) };
}

/** The path of a feature from the event's top level, and whether it is one of its own. */
export function pathOf(location: FeatureLocation, feature: string): { path: readonly string[]; own: boolean } {
  const own = location.paths.get(feature);
  return own === undefined ? { path: [...location.base, feature], own: false } : { path: own, own: true };
}

/** The value at a path (own properties only), or undefined where the path leaves objects. */
export function valueAt(event: unknown, path: readonly string[]): unknown {
  let v = event;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}
