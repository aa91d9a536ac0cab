import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Paths of the chart and the files it must agree with. */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CHART_DIR = join(REPO, 'deploy/helm/kscore');
export const ALERTS_FILE = join(REPO, 'deploy/prometheus/alerts.yml');
export const CHART_ALERTS_FILE = join(CHART_DIR, 'files/alerts.yml');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end; never rejects, the exit code says how it went. */
export function runTool(file: string, args: string[], opts: { timeout?: number; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: opts.timeout ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr: err !== null && typeof err.code !== 'number' ? `${stderr}${err.message}` : stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** The Dockerfile's CMD, as the list of its exec form. */
export async function dockerfileCmd(): Promise<string[]> {
  const text = await readFile(join(REPO, 'Dockerfile'), 'utf8');
  const m = /^CMD\s+(\[.*\])\s*$/m.exec(text);
  if (m === null) throw new Error('Dockerfile has no CMD in exec form (CMD ["..."])');
  return JSON.parse(m[1]!) as string[];
}

interface KeyLine {
  path: string;
  indent: number;
  line: number;
  commented: boolean;
  comment: string;
  children: KeyLine[];
}

/**
 * Keys of a values file that say nothing about themselves: a key is documented by a comment on the
 * lines right above it or at the end of its line, by documented children (a section), or by an
 * ancestor's comment that gives its defaults ("Default..."), as for a resources block.
 */
export function undocumentedKeys(text: string): string[] {
  const lines = text.split('\n');
  const root: KeyLine = { path: '', indent: -1, line: -1, commented: true, comment: '', children: [] };
  const stack: KeyLine[] = [root];
  lines.forEach((raw, i) => {
    const m = /^( *)([A-Za-z_][\w.-]*):(.*)$/.exec(raw);
    if (m === null) return;
    const indent = m[1]!.length;
    const comment: string[] = [];
    for (let j = i - 1; j >= 0 && /^\s*#/.test(lines[j]!); j--) comment.unshift(lines[j]!.trim());
    const inline = /\s#\s/.test(m[3]!);
    while (stack.length > 1 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const parent = stack[stack.length - 1]!;
    const node: KeyLine = {
      path: parent.path === '' ? m[2]! : `${parent.path}.${m[2]!}`,
      indent,
      line: i + 1,
      commented: comment.length > 0 || inline,
      comment: comment.join(' '),
      children: [],
    };
    parent.children.push(node);
    stack.push(node);
  });
  const out: string[] = [];
  const visit = (node: KeyLine, coveredByAncestor: boolean): boolean => {
    const covered = coveredByAncestor || (node.commented && /Default/.test(node.comment));
    const childrenOk = node.children.map((c) => visit(c, covered)).every(Boolean);
    const ok = node.commented || coveredByAncestor || (node.children.length > 0 && childrenOk);
    if (!ok && node.children.length === 0) out.push(node.path);
    return ok;
  };
  for (const child of root.children) visit(child, false);
  return out;
}
