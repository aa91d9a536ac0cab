import { endianness } from 'node:os';
import { PoisonEventError } from '../errors.js';
import type { ColumnBuffer, InputSpec, InputType, ModelInput, TypedRows } from './types.js';

/**
 * The rows of models whose inputs are not one float32 tensor: one buffer per input, each
 * row-major [rows, fields]. Like the float path, each event is written by a compiled function
 * with one unrolled statement per field, type checks inlined, so the per-event path allocates
 * nothing: int64 values are written as two int32 words (no BigInt), booleans as bytes.
 */

/** Typed rows with, for each int64 column, an int32 view of its words (written without BigInt). */
interface Rows extends TypedRows {
  readonly words: readonly (Int32Array | undefined)[];
}

/** Where an int64's low word goes in its pair of int32 words. */
const LOW = endianness() === 'LE' ? 0 : 1;
const HIGH = 1 - LOW;

export function allocTypedRows(inputs: readonly InputSpec[], rows: number): TypedRows {
  const columns: ColumnBuffer[] = [];
  const words: (Int32Array | undefined)[] = [];
  for (const input of inputs) {
    const n = rows * input.fields.length;
    const column = allocColumn(input.type, n);
    columns.push(column);
    words.push(column instanceof BigInt64Array ? new Int32Array(column.buffer, column.byteOffset, n * 2) : undefined);
  }
  const out: Rows = { columns, words };
  return out;
}

function allocColumn(type: InputType, n: number): ColumnBuffer {
  switch (type) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'bool':
      return new Uint8Array(n);
    case 'string':
      return new Array<string>(n).fill('');
  }
}

/** Copies the first `rows` rows of `src` into `dst` from row `at`. */
export function copyTypedRows(inputs: readonly InputSpec[], src: TypedRows, rows: number, dst: TypedRows, at: number): void {
  inputs.forEach((input, i) => {
    const w = input.fields.length;
    const from = src.columns[i]!;
    const to = dst.columns[i]!;
    if (Array.isArray(from)) {
      const strings = to as string[];
      for (let k = 0; k < rows * w; k++) strings[at * w + k] = from[k]!;
    } else {
      (to as Float32Array).set((from as Float32Array).subarray(0, rows * w), at * w);
    }
  });
}

/** Writes one event as row `row` of typed rows: -1, or the index (in `features` order) of the first bad field. */
export type TypedRowWriter = (event: unknown, out: ModelInput, row: number) => number;

/**
 * Compiles the writer of `inputs`. `categories` lists, per input name, the only values it takes
 * (others would fail the batch in onnxruntime); those fields are also checked against that set.
 */
export function compileTypedWriter(inputs: readonly InputSpec[], categories: Readonly<Record<string, readonly (string | number)[]>> = {}): TypedRowWriter {
  const sets: Set<string | number>[] = [];
  const lines: string[] = ['if (event === null || typeof event !== "object") return 0;', 'let v, at, hi;'];
  let index = 0;
  inputs.forEach((input, i) => {
    const w = input.fields.length;
    const known = categories[input.name];
    let set = -1;
    if (known !== undefined) set = sets.push(new Set(known)) - 1;
    lines.push(input.type === 'int64' ? `const c${i} = out.words[${i}];` : `const c${i} = out.columns[${i}];`, `at = row * ${w};`);
    input.fields.forEach((field, j) => {
      lines.push(`v = event[${JSON.stringify(field)}];`, ...store(input.type, `c${i}`, `at + ${j}`, index));
      if (set >= 0) lines.push(`if (!sets[${set}].has(v)) return ${index};`);
      index++;
    });
  });
  lines.push('return -1;');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from field names embedded as JSON literals
  const make = new Function('sets', `return function writeTypedRow(event, out, row) {\n${lines.join('\n')}\n};`) as (s: Set<string | number>[]) => TypedRowWriter;
  return make(sets);
}

/** The statements that check `v` for `type` (returning `index` when it does not fit) and store it. */
function store(type: InputType, column: string, at: string, index: number): string[] {
  switch (type) {
    case 'float32':
    case 'float64':
      return [`if (typeof v !== "number" || v - v !== 0) return ${index};`, `${column}[${at}] = v;`];
    case 'int32':
      return [`if (typeof v !== "number" || (v | 0) !== v) return ${index};`, `${column}[${at}] = v;`];
    case 'int64':
      // A safe integer as two int32 words: high = floor(v / 2^32), low = the rest (two's complement).
      return [
        `if (typeof v !== "number" || !Number.isSafeInteger(v)) return ${index};`,
        'hi = Math.floor(v / 4294967296);',
        `${column}[2 * (${at}) + ${LOW}] = (v - hi * 4294967296) | 0;`,
        `${column}[2 * (${at}) + ${HIGH}] = hi;`,
      ];
    case 'bool':
      return [`if (typeof v !== "boolean") return ${index};`, `${column}[${at}] = v ? 1 : 0;`];
    case 'string':
      return [`if (typeof v !== "string") return ${index};`, `${column}[${at}] = v;`];
  }
}

/** Off the hot path: says why field `index` of `event` does not fit its input. */
export function explainTypedField(
  event: unknown,
  inputs: readonly InputSpec[],
  index: number,
  categories: Readonly<Record<string, readonly (string | number)[]>> = {},
): PoisonEventError {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    return new PoisonEventError('decode-error', 'event is not an object of features');
  }
  let input: InputSpec | undefined;
  let at = index;
  for (const i of inputs) {
    if (at < i.fields.length) {
      input = i;
      break;
    }
    at -= i.fields.length;
  }
  const name = input?.fields[at] ?? `#${index}`;
  const value = Object.hasOwn(event, name) ? (event as Record<string, unknown>)[name] : undefined;
  if (value === undefined || value === null) return new PoisonEventError('missing-feature', `feature "${name}" is missing`);
  const type = input?.type ?? 'float32';
  const fault = mismatch(type, value);
  if (fault !== undefined) return new PoisonEventError(fault.reason, `feature "${name}" is ${fault.what}, not ${fault.wanted}`);
  const known = input === undefined ? undefined : categories[input.name];
  const shownKnown = known === undefined ? '' : ` (it knows ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', ...' : ''})`;
  return new PoisonEventError('unknown-category', `feature "${name}" is ${JSON.stringify(value)}, a value input "${input?.name ?? name}" does not know${shownKnown}`);
}

function mismatch(type: InputType, value: unknown): { reason: PoisonEventError['reason']; what: string; wanted: string } | undefined {
  const kind = typeof value;
  switch (type) {
    case 'float32':
    case 'float64':
      if (kind !== 'number') return { reason: 'non-numeric-feature', what: kind, wanted: 'a number' };
      return Number.isFinite(value) ? undefined : { reason: 'non-finite-feature', what: String(value), wanted: 'a finite number' };
    case 'int64':
    case 'int32': {
      if (kind !== 'number') return { reason: 'non-numeric-feature', what: kind, wanted: `a number (the model takes ${type})` };
      const n = value as number;
      const fits = type === 'int32' ? (n | 0) === n : Number.isSafeInteger(n);
      if (fits) return undefined;
      const unsafe = type === 'int64' && Number.isInteger(n);
      return { reason: 'non-integer-feature', what: String(n), wanted: unsafe ? 'an integer within ±2^53 (a larger one is not exact in a number)' : `an ${type}` };
    }
    case 'bool':
      return kind === 'boolean' ? undefined : { reason: 'non-boolean-feature', what: kind, wanted: 'a boolean' };
    case 'string':
      return kind === 'string' ? undefined : { reason: 'non-string-feature', what: kind, wanted: 'a string' };
  }
}
