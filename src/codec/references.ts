import { SchemaUnsupportedError, SubjectNotFoundError } from './errors.js';
import type { SchemaSource, SchemaText } from './types.js';

/** A referenced schema, with the name the schema that references it imports it by. */
export interface NamedSchema extends SchemaText {
  name: string;
}

/** Most schemas one schema may pull in through its references, directly or not. */
const MAX_REFERENCED = 256;

/**
 * Every schema that `root` (schema id `id`) references, directly or through others, fetched from
 * the registry: dependencies before the schemas that use them, each once. A reference the
 * registry does not have makes the schema unsupported; other failures pass through.
 */
export async function referencedSchemas(id: number, root: SchemaText, source: SchemaSource): Promise<NamedSchema[]> {
  const out: NamedSchema[] = [];
  const seen = new Set<string>();
  const visit = async (refs: SchemaText['references']): Promise<void> => {
    for (const ref of refs) {
      const key = `${ref.subject}\u0000${ref.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (seen.size > MAX_REFERENCED) throw new SchemaUnsupportedError(id, root.type, `schema id ${id} references more than ${MAX_REFERENCED} schemas`);
      let found: SchemaText;
      try {
        found = await source.subjectVersion(ref.subject, ref.version);
      } catch (err) {
        if (!(err instanceof SubjectNotFoundError)) throw err;
        throw new SchemaUnsupportedError(id, root.type, `schema id ${id} references "${ref.name}" (subject "${ref.subject}" version ${ref.version}), which is not in the schema registry`);
      }
      await visit(found.references);
      out.push({ name: ref.name, type: found.type, schema: found.schema, references: found.references });
    }
  };
  await visit(root.references);
  return out;
}
