import type { InputSpec, ModelSpec, TensorData, TensorInfo } from '../scoring/types.js';

/**
 * Tensors of the Open Inference Protocol (v2) REST API in JSON, to and from the scorer's
 * `TensorData`: pure functions, no I/O. Only the JSON form (data as a flat or nested array in
 * row-major order) is taken; the binary-data extension is not.
 */

/** A tensor as the protocol writes it. */
export interface OipTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

/** onnxruntime element type to the protocol's datatype. */
const DATATYPE: Readonly<Record<string, string>> = {
  float32: 'FP32',
  float64: 'FP64',
  int64: 'INT64',
  int32: 'INT32',
  int16: 'INT16',
  int8: 'INT8',
  uint8: 'UINT8',
  bool: 'BOOL',
  string: 'BYTES',
};

/** A request the protocol refuses (answered 400 with the message). */
export class InferRequestError extends Error {
  readonly statusCode = 400;
}

export function datatypeOf(type: string): string {
  return DATATYPE[type] ?? type.toUpperCase();
}

/** A tensor's metadata: symbolic dimensions are -1. */
export function tensorMetadata(t: { name: string; type: string; shape: readonly (number | string)[] }): { name: string; datatype: string; shape: number[] } {
  return { name: t.name, datatype: datatypeOf(t.type), shape: t.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}

/** The model's inputs as the protocol describes them. */
export function inputsOf(spec: ModelSpec): InputSpec[] {
  return [...(spec.inputs ?? [{ name: spec.inputName, type: 'float32', shape: spec.inputShape, fields: spec.features }])];
}

export function outputsOf(spec: ModelSpec): readonly TensorInfo[] {
  return (spec.declaredOutputs ?? []).filter((o) => o.type !== 'non-tensor');
}

/** The feeds of an infer request, each checked against the model input of its name; throws InferRequestError saying what is wrong. */
export function feedsOf(body: unknown, inputs: readonly InputSpec[]): Record<string, TensorData> {
  const given = (body as { inputs?: unknown } | null)?.inputs;
  if (!Array.isArray(given)) throw new InferRequestError('the request needs "inputs", a list of tensors');
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const feeds: Record<string, TensorData> = {};
  for (const t of given as Partial<OipTensor>[]) {
    const input = byName.get(String(t.name));
    if (input === undefined) throw new InferRequestError(`"${String(t.name)}" is not an input of the model (${inputs.map((i) => i.name).join(', ')})`);
    const want = datatypeOf(input.type);
    if (t.datatype !== want) throw new InferRequestError(`input "${input.name}" is ${want}, not ${String(t.datatype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new InferRequestError(`input "${input.name}" needs a shape of non-negative integers`);
    if (!Array.isArray(t.data)) throw new InferRequestError(`input "${input.name}" needs "data", an array`);
    const flat = (t.data as unknown[]).flat(Infinity);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (flat.length !== count) throw new InferRequestError(`input "${input.name}" has ${flat.length} values for shape [${t.shape.join(', ')}] (${count})`);
    feeds[input.name] = { type: input.type, dims: [...t.shape], data: column(input, flat) };
  }
  for (const i of inputs) if (feeds[i.name] === undefined) throw new InferRequestError(`input "${i.name}" is missing`);
  return feeds;
}

function column(input: InputSpec, values: readonly unknown[]): TensorData['data'] {
  const bad = (what: string): never => {
    throw new InferRequestError(`input "${input.name}" takes ${what}`);
  };
  switch (input.type) {
    case 'float32':
    case 'float64':
      if (!values.every((v) => typeof v === 'number')) bad('numbers');
      return input.type === 'float32' ? Float32Array.from(values as number[]) : Float64Array.from(values as number[]);
    case 'int64':
      if (!values.every((v) => Number.isSafeInteger(v))) bad('integers within ±2^53');
      return BigInt64Array.from(values as number[], (v) => BigInt(v));
    case 'int32':
      if (!values.every((v) => typeof v === 'number' && (v | 0) === v)) bad('32-bit integers');
      return Int32Array.from(values as number[]);
    case 'bool':
      if (!values.every((v) => typeof v === 'boolean')) bad('booleans');
      return Uint8Array.from(values as boolean[], (v) => (v ? 1 : 0));
    case 'string':
      if (!values.every((v) => typeof v === 'string')) bad('strings');
      return [...(values as string[])];
  }
}

/** The outputs a request names (`outputs: [{name}]`), checked against the model's; undefined: all. */
export function requestedOutputs(body: unknown, outputs: readonly TensorInfo[]): string[] | undefined {
  const asked = (body as { outputs?: unknown } | null)?.outputs;
  if (asked === undefined) return undefined;
  if (!Array.isArray(asked)) throw new InferRequestError('"outputs" must be a list of {name}');
  const names = (asked as { name?: unknown }[]).map((o) => String(o?.name));
  for (const n of names) {
    if (!outputs.some((o) => o.name === n)) throw new InferRequestError(`"${n}" is not an output of the model (${outputs.map((o) => o.name).join(', ')})`);
  }
  return names;
}

/** A result tensor in the protocol's JSON form (int64 as numbers, booleans as true/false). */
export function oipTensor(name: string, t: TensorData): OipTensor {
  let data: unknown[];
  if (Array.isArray(t.data)) data = t.data;
  else if (t.type === 'bool') data = Array.from(t.data as Uint8Array, (v) => v !== 0);
  else if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) data = Array.from(t.data as BigInt64Array, Number);
  else data = Array.from(t.data as Float32Array);
  return { name, shape: [...t.dims], datatype: datatypeOf(t.type), data };
}
