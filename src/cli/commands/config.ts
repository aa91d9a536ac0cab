import { configReference, loadConfig, redactedConfig } from '../../config/index.js';

export const configHelp = `kscore config [--reference]
  Prints the configuration the service would run with (validated), or with --reference the table
  of every setting, its environment variable, default and meaning.`;

export async function config(argv: string[]): Promise<void> {
  if (argv.includes('--reference')) {
    process.stdout.write(`${configReference()}\n`);
    return;
  }
  process.stdout.write(`${JSON.stringify(redactedConfig(loadConfig(process.env)), null, 2)}\n`);
}
