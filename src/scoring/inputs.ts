import { ModelError } from '../errors.js';
import { INPUT_TYPES, type InputSpec, type InputType, type TensorInfo } from './types.js';

/** Which event fields fill which model input, by input name: one field per column. */
export type InputMapping = Readonly<Record<string, readonly string[]>>;

/** How a registration says what feeds the model; both parts are optional (see `resolveInputs`). */
export interface InputDeclaration {
  /** Event fields in column order: of the model's one input, or the names of its one-column inputs. */
  readonly features?: readonly string[] | undefined;
  /** Fields by input name (a stored version keeps them as a list of inputs). */
  readonly inputs?: InputMapping | readonly { readonly name: string; readonly fields: readonly string[] }[] | undefined;
}

/** The inputs of a model as onnxruntime declares them. */
export type DeclaredInput = TensorInfo & { readonly isTensor: boolean };

/**
 * Pairs each model input with the event fields that fill it, or refuses with the reason:
 * - with `inputs`, each input named there gets those fields; a one-column input not named gets
 *   the field of its own name; `features`, if also given, must be the same fields in order;
 * - with `features` only, a model of one input gets them all; a model of several one-column
 *   inputs may list their names (any order);
 * - with neither, every input must be one column wide and takes the field of its own name, as
 *   skl2onnx exports a ColumnTransformer pipeline (one `[N, 1]` input per column).
 * Inputs must be tensors of a type in INPUT_TYPES, of shape [N] or [N, k] with a dynamic N.
 */
export function resolveInputs(model: readonly DeclaredInput[], decl: InputDeclaration): InputSpec[] {
  if (model.length === 0) throw new ModelError('MODEL_INPUTS', 'the model declares no inputs');
  const shaped = model.map(checkInput);
  const mapping = mappingOf(decl.inputs);
  const features = decl.features;
  let specs: InputSpec[];
  if (mapping !== undefined) {
    for (const name of mapping.keys()) {
      if (!shaped.some((i) => i.name === name)) {
        throw new ModelError('MODEL_INPUT_MAPPING', `the input mapping names "${name}", which is not an input of the model (${namesOf(model)})`);
      }
    }
    specs = shaped.map((i) => withFields(i, mapping.get(i.name) ?? ownField(i)));
    if (features !== undefined && features.join('\u0000') !== specs.flatMap((s) => s.fields).join('\u0000')) {
      throw new ModelError('MODEL_FEATURE_MISMATCH', 'the features differ from the fields the input mapping names; give one of them');
    }
  } else if (features !== undefined && shaped.length === 1) {
    specs = [withFields(shaped[0]!, features)];
  } else if (features !== undefined) {
    const names = new Set(shaped.map((i) => i.name));
    const sameNames = features.length === names.size && features.every((f) => names.has(f));
    if (!sameNames || shaped.some((i) => i.width !== 1)) {
      throw new ModelError(
        'MODEL_INPUT_MAPPING',
        `the model has ${shaped.length} inputs (${namesOf(model)}): say which fields fill each with an input mapping ({"<input>": ["<field>", ...]}), ` +
          'or give no features to fill each one-column input from the field of its name',
      );
    }
    specs = shaped.map((i) => withFields(i, [i.name]));
  } else {
    specs = shaped.map((i) => withFields(i, ownField(i)));
  }
  const all = specs.flatMap((s) => s.fields);
  if (new Set(all).size !== all.length) throw new ModelError('MODEL_DUPLICATE_FEATURES', 'the inputs name a field twice');
  return specs;
}

/** The model takes one float32 tensor of all features: the compiled row writer's case. */
export function isPlainFloat(inputs: readonly InputSpec[]): boolean {
  return inputs.length === 1 && inputs[0]!.type === 'float32' && inputs[0]!.shape.length === 2;
}

interface Shaped {
  name: string;
  type: InputType;
  shape: readonly (number | string)[];
  /** Columns a row takes when the model fixes it; undefined when dynamic. */
  width: number | undefined;
}

function checkInput(input: DeclaredInput): Shaped {
  const { name } = input;
  if (!input.isTensor) throw new ModelError('MODEL_INPUT_TYPE', `input "${name}" is not a tensor`);
  if (!(INPUT_TYPES as readonly string[]).includes(input.type)) {
    throw new ModelError('MODEL_INPUT_TYPE', `input "${name}" is ${input.type}; inputs can be ${INPUT_TYPES.join(', ')}`);
  }
  const shape = input.shape;
  if (shape.length !== 1 && shape.length !== 2) {
    throw new ModelError('MODEL_INPUT_SHAPE', `input "${name}" must have shape [N] or [N, columns], it has [${shape.join(', ')}]`);
  }
  if (typeof shape[0] === 'number' && shape[0] >= 0) {
    throw new ModelError('MODEL_INPUT_SHAPE', `input "${name}" has a fixed batch size of ${shape[0]}: export it with a dynamic first dimension`);
  }
  const second = shape[1];
  const width = shape.length === 1 ? 1 : typeof second === 'number' && second >= 0 ? second : undefined;
  return { name, type: input.type as InputType, shape: [...shape], width };
}

function withFields(input: Shaped, fields: readonly string[]): InputSpec {
  if (fields.length === 0) throw new ModelError('MODEL_NO_FEATURES', `no field fills input "${input.name}"`);
  for (const f of fields) {
    if (typeof f !== 'string' || f.length === 0) throw new ModelError('MODEL_FEATURES', 'field names must be non-empty strings');
  }
  if (input.width !== undefined && input.width !== fields.length) {
    throw new ModelError('MODEL_FEATURE_MISMATCH', `input "${input.name}" takes ${input.width} features but ${fields.length} are declared`);
  }
  return { name: input.name, type: input.type, shape: input.shape, fields: [...fields] };
}

/** The field of a one-column input's own name; a wider input needs its fields named. */
function ownField(input: Shaped): string[] {
  if (input.width === 1) return [input.name];
  const width = input.width === undefined ? 'several' : String(input.width);
  throw new ModelError('FEATURES_REQUIRED', `input "${input.name}" takes ${width} columns: name the fields that fill it (features, or an input mapping)`);
}

function mappingOf(inputs: InputDeclaration['inputs']): Map<string, readonly string[]> | undefined {
  if (inputs === undefined) return undefined;
  if (Array.isArray(inputs)) return new Map((inputs as readonly { name: string; fields: readonly string[] }[]).map((i) => [i.name, i.fields]));
  const out = new Map<string, readonly string[]>();
  for (const [name, fields] of Object.entries(inputs as InputMapping)) {
    if (!Array.isArray(fields)) throw new ModelError('MODEL_INPUT_MAPPING', `the input mapping of "${name}" must be a list of field names`);
    out.set(name, fields);
  }
  return out;
}

function namesOf(model: readonly DeclaredInput[]): string {
  return model.map((i) => i.name).join(', ');
}
