import { configSchema, ENV_NAMES, type Config } from './schema.js';

/** The configuration reference as a markdown table, generated from the schema (README embeds it). */
export function configReference(): string {
  const defaults = configSchema.parse({}) as Record<string, unknown>;
  const rows = Object.entries(configSchema.shape).map(([key, schema]) => {
    const env = ENV_NAMES[key as keyof Config];
    const d = defaults[key];
    const text = Array.isArray(d) ? d.map((x) => (typeof x === 'object' ? '' : String(x))).join(',') : String(d);
    const shown = d === undefined || text === '' ? '(unset)' : `\`${text}\``;
    return `| \`${env}\` | ${shown} | ${(schema as { description?: string }).description ?? ''} |`;
  });
  return ['| Environment variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
