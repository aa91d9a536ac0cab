import { ModelError } from '../errors.js';
import { resolveInputs, type DeclaredInput, type InputDeclaration } from './inputs.js';
import type { GraphFacts } from './onnx-graph.js';
import { inferOutputMapping } from './outputs.js';
import type { ModelSpec, OutputMapping, TensorInfo } from './types.js';

/** What a registration (or a stored version) says about a model; everything else is read from it. */
export interface ModelDeclaration extends InputDeclaration {
  /** Which outputs mean what; inferred from the model's outputs when absent. */
  readonly outputs?: OutputMapping | undefined;
}

/** A model's inputs and outputs as onnxruntime describes them. */
export interface DeclaredModel {
  readonly inputs: readonly DeclaredInput[];
  readonly outputs: readonly (TensorInfo & { readonly isTensor: boolean })[];
}

/**
 * The spec a model serves with, or the reason it cannot: its inputs paired with event fields
 * (inputs.ts), the outputs that carry score, label and probabilities, each an output of the model
 * and a tensor. The positive class is resolved later, once the number of classes is known.
 */
export function modelSpecOf(model: DeclaredModel, decl: ModelDeclaration, facts: GraphFacts): ModelSpec {
  const inputs = resolveInputs(model.inputs, decl);
  const described: TensorInfo[] = model.outputs.map((o) => ({ name: o.name, type: o.isTensor ? o.type : 'non-tensor', shape: o.isTensor ? [...o.shape] : [] }));
  // A declaration naming only the positive class still has its outputs inferred.
  const given = decl.outputs;
  const named = given !== undefined && [given.score, given.label, given.probabilities].some((n) => n !== undefined);
  const outputs: OutputMapping = named ? given : { ...inferred(described, facts), ...(given?.positiveClass === undefined ? {} : { positiveClass: given.positiveClass }) };
  const { positiveClass, ...mapped } = outputs;
  const roles = Object.entries(mapped).filter(([, name]) => name !== undefined) as [string, string][];
  if (roles.length === 0) {
    throw new ModelError('MODEL_OUTPUTS', `no output to read a prediction from (outputs: ${described.map((o) => o.name).join(', ')})`);
  }
  for (const [role, name] of roles) {
    const o = described.find((d) => d.name === name);
    if (o === undefined) throw new ModelError('MODEL_OUTPUTS', `the ${role} output "${name}" is not an output of the model`);
    if (o.type === 'non-tensor') throw notTensor(role, name, facts);
  }
  if (positiveClass !== undefined && (typeof positiveClass !== 'string' || positiveClass.length === 0)) {
    throw new ModelError('MODEL_POSITIVE_CLASS', 'the positive class must be a class label (a non-empty string)');
  }
  const categories = Object.fromEntries(inputs.filter((i) => facts.categories[i.name] !== undefined).map((i) => [i.name, facts.categories[i.name]!]));
  const first = inputs[0]!;
  return {
    features: inputs.flatMap((i) => i.fields),
    inputName: first.name,
    inputShape: first.shape,
    inputs,
    outputs,
    declaredOutputs: described,
    ...(Object.keys(categories).length > 0 ? { categories } : {}),
  };
}

/** The mapping inferred from the tensor outputs; a ZipMap among them is refused rather than silently left out. */
function inferred(described: readonly TensorInfo[], facts: GraphFacts): OutputMapping {
  const other = described.find((o) => o.type === 'non-tensor');
  if (other !== undefined) throw notTensor('probabilities', other.name, facts);
  return inferOutputMapping(described);
}

function notTensor(role: string, name: string, facts: GraphFacts): ModelError {
  const what = facts.zipMapOutputs.includes(name) ? 'a ZipMap (a sequence of maps, one per row)' : 'not a tensor';
  return new ModelError(
    'MODEL_OUTPUTS',
    `the ${role} output "${name}" is ${what}, which onnxruntime-node cannot return: convert the classifier without ZipMap ` +
      `(skl2onnx: options={id(classifier): {"zipmap": False}}; onnxmltools: zipmap=False), or name only tensor outputs in the output mapping`,
  );
}
