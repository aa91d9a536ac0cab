import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ModelError } from '../errors.js';

/**
 * Model bytes too large to keep in Redis, as files under one folder (a volume shared by the
 * replicas). Paths are relative to the folder; Redis keeps the path and the sha256.
 */
export class ModelFileStore {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async write(name: string, version: string, sha256: string, bytes: Buffer): Promise<string> {
    const path = join(name, `${version}-${sha256.slice(0, 16)}.onnx`);
    const full = this.full(path);
    await mkdir(dirname(full), { recursive: true });
    const tmp = `${full}.tmp-${process.pid}`;
    await writeFile(tmp, bytes);
    await rename(tmp, full);
    return path;
  }

  async read(path: string): Promise<Buffer> {
    try {
      return await readFile(this.full(path));
    } catch (err) {
      throw new ModelError('MODEL_FILE_MISSING', `model file ${path} cannot be read from the file store ${this.root}`, {
        cause: err,
        canRetry: true,
      });
    }
  }

  private full(path: string): string {
    const full = resolve(this.root, path);
    if (!full.startsWith(this.root + sep)) throw new ModelError('MODEL_FILE_PATH', `model file path ${path} leaves the file store`);
    return full;
  }
}
