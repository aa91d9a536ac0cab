/**
 * Writes demo models to disk: `<outPath>` (ONNX bytes) and `<outPath>.json` (sidecar).
 * No argument parsing here; the main CLI wires this in.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { buildModel } from './models.js';
import type { BuildOptions, ModelKind, OutputSpec } from './models.js';

export type DemoModelKind = ModelKind;
export type DemoModelOptions = BuildOptions;

export interface DemoModelSidecar {
  kind: DemoModelKind;
  /** Name of the model's single input tensor (float32 [N, features.length]). */
  input: string;
  features: string[];
  outputs: Record<string, OutputSpec>;
  /** Build parameters (nFeatures, seed, and hidden / nTrees / depth where they apply). */
  params: Record<string, number>;
}

export interface WrittenDemoModel {
  modelPath: string;
  sidecarPath: string;
  sidecar: DemoModelSidecar;
}

/** Writes to a temporary name, then renames, so readers never see a half-written file. */
async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export async function writeDemoModel(
  kind: DemoModelKind,
  outPath: string,
  opts: DemoModelOptions = {},
): Promise<WrittenDemoModel> {
  const model = buildModel(kind, opts);
  const sidecar: DemoModelSidecar = {
    kind,
    input: model.inputName,
    features: model.features,
    outputs: model.outputs,
    params: model.params,
  };
  const sidecarPath = `${outPath}.json`;
  await mkdir(dirname(outPath), { recursive: true });
  await writeFileAtomic(outPath, model.bytes);
  await writeFileAtomic(sidecarPath, `${JSON.stringify(sidecar, null, 2)}\n`);
  return { modelPath: outPath, sidecarPath, sidecar };
}
