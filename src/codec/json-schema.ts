import { Ajv, type AnySchemaObject, type Options, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import draft6 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };
import type { NamedSchema } from './references.js';
import type { CompiledSchema, SchemaText } from './types.js';

/**
 * Formats (`"format": "email"`) are not checked: ajv knows none without a plugin, and a schema
 * that uses them must still load. Unknown keywords are allowed (`strict: false`): schemas in the
 * wild carry annotations of their own.
 */
const AJV_OPTIONS: Options = { strict: false, validateFormats: false, allErrors: false };

/**
 * A JSON Schema: the body is JSON text. With `validate`, a value must match the schema (ajv:
 * draft 7 unless `$schema` names draft 6, 2019-09 or 2020-12), else it is refused; without, the
 * schema is only parsed, and an event is one `JSON.parse`. Referenced schemas are added under
 * their reference names, which is what `$ref` names them by.
 */
export function compileJsonSchema(main: SchemaText, deps: readonly NamedSchema[], validate: boolean): CompiledSchema {
  const schema = JSON.parse(main.schema) as unknown;
  const check = validate ? validator(schema, deps) : undefined;
  const refuse = (fn: ValidateFunction): Error => new Error(`it does not match its JSON schema: ${describe(fn)}`);
  return {
    type: 'JSON',
    decode(body) {
      const value = JSON.parse(body.toString('utf8')) as unknown;
      if (check !== undefined && !check(value)) throw refuse(check);
      return value;
    },
    encode(value) {
      if (check !== undefined && !check(value)) throw refuse(check);
      return Buffer.from(JSON.stringify(value), 'utf8');
    },
  };
}

/** Compiles the schema with the ajv class its `$schema` asks for. */
export function validator(schema: unknown, deps: readonly NamedSchema[] = []): ValidateFunction {
  if (typeof schema === 'boolean') return new Ajv(AJV_OPTIONS).compile(schema);
  if (schema === null || typeof schema !== 'object') throw new Error('a JSON schema must be an object or a boolean');
  const draft = String((schema as { $schema?: unknown }).$schema ?? '');
  const ajv = draft.includes('2020-12') ? new Ajv2020(AJV_OPTIONS) : draft.includes('2019-09') ? new Ajv2019(AJV_OPTIONS) : new Ajv(AJV_OPTIONS);
  if (draft.includes('draft-06')) ajv.addMetaSchema(draft6);
  for (const d of deps) if (d.type === 'JSON') ajv.addSchema(JSON.parse(d.schema) as AnySchemaObject, d.name);
  return ajv.compile(schema as AnySchemaObject);
}

function describe(fn: ValidateFunction): string {
  const e = fn.errors?.[0];
  return e === undefined ? 'refused' : `${e.instancePath === '' ? 'the value' : e.instancePath} ${e.message ?? 'is refused'}`;
}
