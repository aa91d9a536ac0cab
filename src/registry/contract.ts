import { shapeAt, type FieldKind, type FieldShape } from '../codec/fields.js';
import { pathOf, type FeatureLocation } from '../scoring/feature-paths.js';
import type { InputSpec, InputType } from '../scoring/types.js';

/** What a model reads: its typed inputs, or (versions from before typed inputs) one float32 input of `features`. */
export interface ModelReads {
  readonly features: readonly string[];
  readonly inputs?: readonly InputSpec[];
}

/** The outcome of holding a model's inputs against the schema of the events it would score. */
export interface ContractFindings {
  /** What makes the model unable to score these events: a field missing, or of a type its input cannot take. */
  readonly mismatches: string[];
  /** What is allowed but worth knowing: fields that may be absent (such events are dead-lettered). */
  readonly notes: string[];
}

/** Which schema field kinds each input type takes (as the row writers accept values). */
const TAKES: Readonly<Record<InputType, readonly FieldKind[]>> = {
  float32: ['number', 'integer'],
  float64: ['number', 'integer'],
  int32: ['integer'],
  int64: ['integer'],
  bool: ['boolean'],
  string: ['string'],
};

const NEEDS: Readonly<Record<InputType, string>> = {
  float32: 'a number',
  float64: 'a number',
  int32: 'an integer',
  int64: 'an integer',
  bool: 'a boolean',
  string: 'a string',
};

/**
 * Every field the model reads, found where the service would read it (`location`) in the event
 * shape, of a kind its input takes. Fields the schema leaves open (`unknown`) pass unchecked.
 */
export function checkContract(model: ModelReads, event: FieldShape, location: FeatureLocation): ContractFindings {
  const mismatches: string[] = [];
  const notes: string[] = [];
  const inputs = model.inputs ?? [{ name: 'input', type: 'float32' as const, shape: [], fields: model.features }];
  for (const input of inputs) {
    for (const field of input.fields) {
      const { path } = pathOf(location, field);
      const shape = shapeAt(event, path);
      const what = `field "${path.join('.')}" (input "${input.name}", ${input.type})`;
      if (shape === undefined) {
        mismatches.push(`${what} is not in the schema`);
        continue;
      }
      if (shape.kind === 'unknown') continue;
      if (!TAKES[input.type].includes(shape.kind)) {
        mismatches.push(`${what} is ${article(shape.kind)} in the schema; the input needs ${NEEDS[input.type]}`);
        continue;
      }
      if (shape.optional) notes.push(`${what} may be absent or null: such events are dead-lettered`);
    }
  }
  return { mismatches, notes };
}

function article(kind: FieldKind): string {
  switch (kind) {
    case 'integer':
      return 'an integer';
    case 'object':
      return 'an object';
    case 'other':
      return 'neither a number, a string nor a boolean';
    default:
      return `a ${kind}`;
  }
}
