import { parseArgs } from 'node:util';
import { ScoringService } from '../../service/service.js';
import { connectionFlags, connectionOverrides, makeContext, onShutdownSignal } from '../context.js';

export const serveHelp = `kscore serve [--brokers H:P] [--redis-url URL] [--schema-registry-url URL] [--http-port N]
  Runs the online scoring service. Every setting is also read from the environment (README).`;

export async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { ...connectionFlags, 'http-port': { type: 'string' } } });
  const { config, log } = makeContext({
    ...connectionOverrides(values),
    ...(values['http-port'] === undefined ? {} : { httpPort: Number(values['http-port']) }),
  });
  const service = await ScoringService.create(config, log);
  onShutdownSignal(() => service.close(), log);
  // A failure a restart may fix (or an operator must): shut down in order, exit non-zero.
  void service.failed.then(async () => {
    await service.close();
    process.exit(1);
  });
  const { httpUrl } = await service.start();
  log.info({ http: httpUrl, topic: config.featuresTopic, model: config.modelName, alias: config.modelAlias }, 'serving');
}
