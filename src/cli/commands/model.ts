import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { buildModel, type ModelKind } from '../../modelgen/models.js';
import { readMetadataProps } from '../../modelgen/onnx-writer.js';
import { RedisModelStore, registerModel, type ModelVersionMeta } from '../../registry/index.js';
import { connectRedis } from '../../service/service.js';
import type { OutputMapping } from '../../scoring/types.js';
import { connectionFlags, connectionOverrides, makeContext, type CommandContext } from '../context.js';

export const modelHelp = `kscore model register --file MODEL.onnx [--name NAME] [--features a,b,c] [--alias production] [--description TEXT]
  Validates and registers an ONNX model. Features come from --features, else from MODEL.onnx.json
  ({"features": [...], "outputs": {...}}), else from the model's "kscore.features" metadata.
kscore model demo [--kind logistic|mlp|trees|regressor] [--features N] [--name NAME] [--alias production]
  Builds a demo model in code and registers it.
kscore model promote --version V [--name NAME] [--alias production]
kscore model list [--name NAME]`;

const flags = {
  ...connectionFlags,
  name: { type: 'string' },
  file: { type: 'string' },
  features: { type: 'string' },
  alias: { type: 'string' },
  description: { type: 'string' },
  kind: { type: 'string' },
  version: { type: 'string' },
  trees: { type: 'string' },
} as const;

export async function model(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: flags });
  const ctx = makeContext({
    ...connectionOverrides(values),
    ...(values.name === undefined ? {} : { modelName: values.name }),
  });
  const redis = connectRedis(ctx.config.redisUrl, ctx.log);
  await redis.connect();
  const store = new RedisModelStore(redis, ctx.config.redisKeyPrefix);
  try {
    switch (sub) {
      case 'register':
        return print(await register(ctx, store, values));
      case 'demo':
        return print(await demo(ctx, store, values));
      case 'promote': {
        if (values.version === undefined) throw new UsageError('model promote needs --version');
        const alias = values.alias ?? ctx.config.modelAlias;
        await store.setAlias(ctx.config.modelName, alias, values.version);
        return print({ model: ctx.config.modelName, alias, version: values.version });
      }
      case 'list': {
        const names = values.name !== undefined ? [values.name] : await store.listModels();
        const out = await Promise.all(
          names.map(async (n) => ({
            name: n,
            aliases: await store.listAliases(n),
            versions: (await store.listVersions(n)).map(summary),
          })),
        );
        return print(out);
      }
      default:
        throw new UsageError(`unknown model command "${sub ?? ''}"\n${modelHelp}`);
    }
  } finally {
    await redis.quit();
  }
}

async function register(ctx: CommandContext, store: RedisModelStore, values: Record<string, unknown>): Promise<object> {
  const file = values['file'];
  if (typeof file !== 'string') throw new UsageError('model register needs --file');
  const bytes = await readFile(file);
  let features: string[] | undefined;
  let outputs: OutputMapping | undefined;
  if (typeof values['features'] === 'string') features = values['features'].split(',').map((s) => s.trim());
  const sidecar = await readFile(`${file}.json`, 'utf8').then(
    (s) => JSON.parse(s) as { features?: string[]; outputs?: unknown },
    () => undefined,
  );
  features ??= sidecar?.features;
  if (isMapping(sidecar?.outputs)) outputs = sidecar.outputs;
  features ??= readMetadataProps(bytes)['kscore.features']?.split(',');
  if (features === undefined) {
    throw new UsageError('no feature list: pass --features, or write MODEL.onnx.json, or set the "kscore.features" metadata');
  }
  const meta = await registerModel(
    store,
    ctx.config.modelName,
    { bytes, features, ...(outputs ? { outputs } : {}), description: typeof values['description'] === 'string' ? values['description'] : '' },
    { alias: typeof values['alias'] === 'string' ? values['alias'] : ctx.config.modelAlias },
  );
  return summary(meta);
}

export async function demo(ctx: CommandContext, store: RedisModelStore, values: Record<string, unknown>): Promise<object> {
  const kind = (typeof values['kind'] === 'string' ? values['kind'] : 'logistic') as ModelKind;
  if (!['logistic', 'mlp', 'trees', 'regressor'].includes(kind)) throw new UsageError(`unknown --kind ${kind}`);
  const nFeatures = typeof values['features'] === 'string' ? Number(values['features']) : 32;
  const nTrees = typeof values['trees'] === 'string' ? Number(values['trees']) : 100;
  const built = buildModel(kind, { nFeatures, nTrees, depth: 6 });
  const meta = await registerModel(
    store,
    ctx.config.modelName,
    { bytes: Buffer.from(built.bytes), features: built.features, description: `demo ${kind} model on ${nFeatures} features` },
    { alias: typeof values['alias'] === 'string' ? values['alias'] : ctx.config.modelAlias },
  );
  return summary(meta);
}

function isMapping(v: unknown): v is OutputMapping {
  return typeof v === 'object' && v !== null && ['score', 'label', 'probabilities'].some((k) => typeof (v as Record<string, unknown>)[k] === 'string');
}

function summary(m: ModelVersionMeta): object {
  return { name: m.name, version: m.version, sha256: m.sha256, size: m.size, features: m.features.length, outputs: m.outputs, createdAt: m.createdAt, description: m.description };
}

function print(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

export class UsageError extends Error {}
