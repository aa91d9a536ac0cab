import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { buildModel, type ModelKind } from '../../modelgen/models.js';
import { readMetadataProps } from '../../modelgen/onnx-writer.js';
import { confluentSchemaSource } from '../../codec/index.js';
import { connectRedis, contractsFor, modelStoreFor, promoteVersion, type ModelVersionMeta, type NewModelVersion, type RedisModelStore, registerModel } from '../../registry/index.js';
import type { OutputMapping } from '../../scoring/types.js';
import { cliActor, connectionFlags, connectionOverrides, makeContext, type CommandContext } from '../context.js';

export const modelHelp = `kscore model register --file MODEL.onnx [--name NAME] [--features a,b,c] [--positive-class 1] [--alias production] [--description TEXT]
  Validates and registers an ONNX model. Its inputs and their types are read from the model.
  Features come from --features, else from MODEL.onnx.json ({"features": [...], "inputs":
  {"<input>": [fields]}, "outputs": {..., "positiveClass": "1"}, "metrics": {...}, "baseline": {...}}),
  else from the model's "kscore.features" metadata; without any, each one-column input takes the
  field of its own name. A refused model changes nothing and says why. The model is held against
  the schema of its features topic (schema contracts); --override REASON goes ahead despite a
  mismatch, and the audit log records it.
kscore model demo [--kind logistic|mlp|trees|regressor] [--features N] [--trees N] [--name NAME] [--alias production]
  Builds a demo model in code and registers it.
kscore model promote --version V [--name NAME] [--alias production] [--override REASON]
  Checks the version against the features topic's schema first, as register does.
kscore model rollback [--name NAME] [--alias production]     back to the alias's previous version
kscore model unalias --alias ALIAS [--name NAME]
kscore model split --alias canary --share 0.1 [--name NAME]  (--share 0 ends the split)
kscore model list [--name NAME]
kscore model audit [--name NAME] [--limit 50]`;

const flags = {
  ...connectionFlags,
  name: { type: 'string' },
  file: { type: 'string' },
  features: { type: 'string' },
  'positive-class': { type: 'string' },
  alias: { type: 'string' },
  description: { type: 'string' },
  kind: { type: 'string' },
  version: { type: 'string' },
  trees: { type: 'string' },
  share: { type: 'string' },
  limit: { type: 'string' },
  override: { type: 'string' },
} as const;

export class UsageError extends Error {}

export function storeFor(ctx: CommandContext, redis: ReturnType<typeof connectRedis>): RedisModelStore {
  return modelStoreFor(redis, ctx.config);
}

export async function model(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: flags });
  const ctx = makeContext({
    ...connectionOverrides(values),
    ...(values.name === undefined ? {} : { modelName: values.name }),
  });
  const redis = connectRedis(ctx.config, ctx.log);
  await redis.connect();
  const store = storeFor(ctx, redis);
  const name = ctx.config.modelName;
  const alias = values.alias ?? ctx.config.modelAlias;
  const actor = cliActor();
  try {
    switch (sub) {
      case 'register':
        return print(await register(ctx, store, values, actor));
      case 'demo':
        return print(await demo(ctx, store, values, actor));
      case 'promote': {
        if (values.version === undefined) throw new UsageError('model promote needs --version');
        const contracts = await promoteVersion(store, contractsFor(ctx.config, confluentSchemaSource(ctx.config)), { model: name, alias, version: values.version, actor, override: values.override });
        return print({ model: name, alias, version: values.version, contracts });
      }
      case 'rollback':
        return print({ model: name, alias, version: await store.rollbackAlias(name, alias, actor) });
      case 'unalias':
        if (values.alias === undefined) throw new UsageError('model unalias needs --alias');
        await store.deleteAlias(name, alias, actor);
        return print({ model: name, removed: alias });
      case 'split': {
        const share = Number(values.share);
        if (values.alias === undefined || !(share >= 0 && share <= 1)) throw new UsageError('model split needs --alias and --share between 0 and 1');
        await store.setSplit(name, share === 0 ? undefined : { alias, share }, actor);
        return print({ model: name, split: share === 0 ? null : { alias, share } });
      }
      case 'list': {
        const names = values.name !== undefined ? [values.name] : await store.listModels();
        const out = await Promise.all(
          names.map(async (n) => ({ name: n, ...(await store.routing(n)), versions: (await store.listVersions(n)).map(summary) })),
        );
        return print(out);
      }
      case 'audit':
        return print(await store.audit({ ...(values.name ? { model: values.name } : {}), limit: Number(values.limit ?? 50) }));
      default:
        throw new UsageError(`unknown model command "${sub ?? ''}"\n${modelHelp}`);
    }
  } finally {
    await redis.quit();
  }
}

async function register(ctx: CommandContext, store: RedisModelStore, values: Record<string, unknown>, actor: string): Promise<object> {
  const file = values['file'];
  if (typeof file !== 'string') throw new UsageError('model register needs --file');
  const bytes = await readFile(file);
  const sidecar = await readFile(`${file}.json`, 'utf8').then(
    (s) => JSON.parse(s) as { features?: string[]; inputs?: NewModelVersion['inputs']; outputs?: unknown; metrics?: Record<string, number>; baseline?: NewModelVersion['baseline'] },
    () => undefined,
  );
  const features =
    (typeof values['features'] === 'string' ? values['features'].split(',').map((s) => s.trim()) : undefined) ??
    sidecar?.features ??
    readMetadataProps(bytes)['kscore.features']?.split(',');
  const positiveClass = typeof values['positive-class'] === 'string' ? values['positive-class'] : undefined;
  const outputs = isMapping(sidecar?.outputs) ? sidecar.outputs : undefined;
  const withPositive = positiveClass === undefined ? outputs : { ...outputs, positiveClass };
  const meta = await registerModel(
    store,
    ctx.config.modelName,
    {
      bytes,
      ...(features === undefined ? {} : { features }),
      ...(sidecar?.inputs === undefined ? {} : { inputs: sidecar.inputs }),
      ...(withPositive === undefined ? {} : { outputs: withPositive }),
      ...(sidecar?.metrics ? { metrics: sidecar.metrics } : {}),
      ...(sidecar?.baseline ? { baseline: sidecar.baseline } : {}),
      description: typeof values['description'] === 'string' ? values['description'] : '',
    },
    {
      alias: typeof values['alias'] === 'string' ? values['alias'] : ctx.config.modelAlias,
      actor,
      contracts: contractsFor(ctx.config, confluentSchemaSource(ctx.config)),
      override: typeof values['override'] === 'string' ? values['override'] : undefined,
    },
  );
  return summary(meta);
}

export async function demo(ctx: CommandContext, store: RedisModelStore, values: Record<string, unknown>, actor = cliActor()): Promise<ModelVersionMeta> {
  const kind = (typeof values['kind'] === 'string' ? values['kind'] : 'logistic') as ModelKind;
  if (!['logistic', 'mlp', 'trees', 'regressor'].includes(kind)) throw new UsageError(`unknown --kind ${kind}`);
  const nFeatures = typeof values['features'] === 'string' ? Number(values['features']) : 32;
  const nTrees = typeof values['trees'] === 'string' ? Number(values['trees']) : 100;
  const built = buildModel(kind, { nFeatures, nTrees, depth: 6 });
  return registerModel(
    store,
    ctx.config.modelName,
    { bytes: Buffer.from(built.bytes), features: built.features, description: `demo ${kind} model on ${nFeatures} features` },
    {
      alias: typeof values['alias'] === 'string' ? values['alias'] : ctx.config.modelAlias,
      actor,
      contracts: contractsFor(ctx.config, confluentSchemaSource(ctx.config)),
      override: typeof values['override'] === 'string' ? values['override'] : undefined,
    },
  );
}

function isMapping(v: unknown): v is OutputMapping {
  return typeof v === 'object' && v !== null && ['score', 'label', 'probabilities', 'positiveClass'].some((k) => typeof (v as Record<string, unknown>)[k] === 'string');
}

function summary(m: ModelVersionMeta): object {
  return {
    name: m.name,
    version: m.version,
    sha256: m.sha256,
    size: m.size,
    features: m.features.length,
    outputs: m.outputs,
    storage: m.storage.kind,
    createdAt: m.createdAt,
    createdBy: m.createdBy,
    description: m.description,
  };
}

function print(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}
