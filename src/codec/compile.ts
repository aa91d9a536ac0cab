import { ServiceError, errorMessage } from '../errors.js';
import { compileAvro } from './avro.js';
import { SchemaUnsupportedError } from './errors.js';
import { compileJsonSchema } from './json-schema.js';
import { compileProtobuf } from './protobuf.js';
import { referencedSchemas } from './references.js';
import type { CompiledSchema, SchemaSource, SchemaText } from './types.js';

export interface CompileOptions {
  /** Check JSON Schema events against their schema (off: parse only). */
  validateJson: boolean;
}

/**
 * Fetches what a registered schema references and compiles it for its type. A schema that does
 * not compile is `SchemaUnsupportedError`; registry failures pass through as they are.
 */
export async function compileSchema(id: number, text: SchemaText, source: SchemaSource, options: CompileOptions): Promise<CompiledSchema> {
  const deps = await referencedSchemas(id, text, source);
  try {
    switch (text.type) {
      case 'AVRO':
        return compileAvro(text, deps);
      case 'PROTOBUF':
        return compileProtobuf(text, deps);
      case 'JSON':
        return compileJsonSchema(text, deps, options.validateJson);
    }
  } catch (err) {
    if (err instanceof ServiceError) throw err;
    throw new SchemaUnsupportedError(id, text.type, `schema id ${id} (${text.type}) cannot be read: ${errorMessage(err)}`);
  }
}

/** The registered schema `id`, compiled. */
export async function fetchSchema(id: number, source: SchemaSource, options: CompileOptions): Promise<CompiledSchema> {
  return compileSchema(id, await source.schemaById(id), source, options);
}
