import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReference, ENV_NAMES } from '../../src/config/index.js';

describe('configuration reference', () => {
  it('is in README.md exactly as the schema generates it', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('<!-- config-reference');
    const end = readme.indexOf('<!-- /config-reference -->');
    const embedded = readme.slice(readme.indexOf('\n', start) + 1, end).trim();
    expect(embedded).toBe(configReference());
  });

  it('documents every setting with an environment variable and a meaning', () => {
    const table = configReference();
    for (const env of Object.values(ENV_NAMES)) expect(table).toMatch(new RegExp(`\\| \`${env}\` \\| [^|]+ \\| [^|]{10,} \\|`));
  });
});
