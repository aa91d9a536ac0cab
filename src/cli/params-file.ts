import { readFile } from 'node:fs/promises';

/** The JSON of a `--params` argument: a file's path, or `-` for standard input. */
export async function readParamsJson(path: string): Promise<unknown> {
  const text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  return JSON.parse(text) as unknown;
}

async function readStdin(): Promise<string> {
  let s = '';
  for await (const chunk of process.stdin) s += String(chunk);
  return s;
}
