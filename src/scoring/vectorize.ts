import { PoisonEventError } from '../errors.js';
import { TOP_LEVEL, pathOf, valueAt, type FeatureLocation } from './feature-paths.js';
import { floatLayout, type BatchLayout } from './batcher.js';
import { isPlainFloat } from './inputs.js';
import { allocTypedRows, compileTypedWriter, copyTypedRows, explainTypedField } from './typed-rows.js';
import type { ModelInput, ModelSpec, TypedRows } from './types.js';

/**
 * Writes one event's features into a row of the input tensor. Returns -1 when every feature was a
 * finite number, else the index of the first bad feature (the row is then garbage and is skipped).
 */
export type RowWriter = (event: unknown, out: Float32Array, offset: number) => number;

/**
 * Compiles a row writer with one unrolled, monomorphic statement per feature. This is the hot path
 * of the service: STACK.md measured 33-92 ns a row this way against ~560 ns for a generic loop.
 * Nested features become a chain of property reads, each object on the way read once into a
 * local (`const p1 = event["payload"]`, then `p1["f0"]`, `p1["f1"]`, ...). Names are embedded as
 * JSON string literals, so any name is safe.
 */
export function compileRowWriter(features: readonly string[], location: FeatureLocation = TOP_LEVEL): RowWriter {
  const lines: string[] = ['if (event === null || typeof event !== "object") return 0;', 'let v;'];
  const locals = new Map<string, string>([['[]', 'event']]);
  let baseChecked = location.base.length === 0;
  const objectAt = (path: readonly string[]): string => {
    const known = locals.get(JSON.stringify(path));
    if (known !== undefined) return known;
    const parent = objectAt(path.slice(0, -1));
    const local = `p${locals.size}`;
    lines.push(`const ${local} = ${read(parent, path[path.length - 1]!)};`);
    locals.set(JSON.stringify(path), local);
    return local;
  };
  features.forEach((name, i) => {
    const { path, own } = pathOf(location, name);
    if (!own && !baseChecked) {
      const base = objectAt(location.base);
      lines.push(`if (${base} === null || typeof ${base} !== "object") return ${i};`);
      baseChecked = true;
    }
    lines.push(
      `v = ${read(objectAt(path.slice(0, -1)), path[path.length - 1]!)};`,
      `if (typeof v !== "number" || v - v !== 0) return ${i};`,
      `out[offset + ${i}] = v;`,
    );
  });
  lines.push('return -1;');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from names embedded as JSON literals
  return new Function('event', 'out', 'offset', lines.join('\n')) as RowWriter;
}

/** A property read; below the top level, guarded against a value on the way that is no object. */
function read(object: string, key: string): string {
  const k = JSON.stringify(key);
  return object === 'event' ? `event[${k}]` : `(typeof ${object} === "object" && ${object} !== null ? ${object}[${k}] : undefined)`;
}

/** Off the hot path: says why feature `index` of `event` was refused. */
export function explainBadFeature(event: unknown, features: readonly string[], index: number, location: FeatureLocation = TOP_LEVEL): PoisonEventError {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    return new PoisonEventError('decode-error', 'event is not an object of features');
  }
  const name = features[index] ?? `#${index}`;
  const { path, own } = pathOf(location, name);
  if (!own && location.base.length > 0) {
    const base = valueAt(event, location.base);
    if (base === null || typeof base !== 'object') return new PoisonEventError('decode-error', `event has no object of features at "${location.base.join('.')}"`);
  }
  const value = valueAt(event, path);
  const what = `feature "${name}"${own || path.length > 1 ? ` (at ${path.join('.')})` : ''}`;
  if (value === undefined || value === null) return new PoisonEventError('missing-feature', `${what} is missing`);
  if (typeof value !== 'number') return new PoisonEventError('non-numeric-feature', `${what} is ${typeof value}, not a number`);
  return new PoisonEventError('non-finite-feature', `${what} is ${String(value)}`);
}

/** How a model's rows are laid out, written and explained: what the pipeline needs of a model to fill its batches. */
export interface RowFormat extends BatchLayout<ModelInput> {
  /** The writer's offset of row `r` is `r * stride`. */
  readonly stride: number;
  /** Writes one event as a row: -1, or the index (in `spec.features`) of the first field that does not fit. */
  readonly write: (event: unknown, out: ModelInput, offset: number) => number;
  /** Off the hot path: the dead-letter reason for the field `write` refused. */
  explain(event: unknown, index: number): PoisonEventError;
}

/**
 * The row format of a model. One float32 input of every feature keeps the compiled row writer
 * above, its rows side by side in one Float32Array; any other model (several inputs, other
 * types) gets typed rows (typed-rows.ts), one buffer per input.
 */
export function rowFormatFor(spec: ModelSpec, location: FeatureLocation = TOP_LEVEL): RowFormat {
  const inputs = spec.inputs;
  if (inputs === undefined || isPlainFloat(inputs)) {
    const features = spec.features;
    return {
      stride: features.length,
      // The writer and layout only ever meet this model's own Float32Array buffers.
      write: compileRowWriter(features, location) as RowFormat['write'],
      ...(floatLayout(features.length) as unknown as BatchLayout<ModelInput>),
      explain: (event, index) => explainBadFeature(event, features, index, location),
    };
  }
  const categories = spec.categories ?? {};
  const writeTyped = compileTypedWriter(inputs, categories);
  // Typed rows read top-level fields: a nested location is first gathered into one flat view.
  const view = location === TOP_LEVEL ? (event: unknown): unknown => event : flatView(spec.features, location);
  return {
    stride: 1,
    write: location === TOP_LEVEL ? writeTyped : (event, out, offset) => writeTyped(view(event), out, offset),
    alloc: (rows) => allocTypedRows(inputs, rows),
    copy: (src, rows, dst, at) => copyTypedRows(inputs, src as TypedRows, rows, dst as TypedRows, at),
    explain: (event, index) => explainTypedField(view(event), inputs, index, categories),
  };
}

/** An object of each feature's value at its place in the event (nested locations of typed models). */
function flatView(features: readonly string[], location: FeatureLocation): (event: unknown) => unknown {
  const paths = features.map((f) => [f, pathOf(location, f).path] as const);
  return (event) => {
    if (event === null || typeof event !== 'object') return event;
    const out: Record<string, unknown> = {};
    for (const [f, path] of paths) out[f] = valueAt(event, path);
    return out;
  };
}
