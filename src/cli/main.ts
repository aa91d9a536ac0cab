#!/usr/bin/env node
import { ServiceError, errorMessage } from '../errors.js';
import { config, configHelp } from './commands/config.js';
import { demoCommand, demoHelp } from './commands/demo.js';
import { model, modelHelp, UsageError } from './commands/model.js';
import { predictions, predictionsHelp } from './commands/predictions.js';
import { produce, produceHelp } from './commands/produce.js';
import { replay, replayHelp } from './commands/replay.js';
import { schedule, scheduleHelp } from './commands/schedule.js';
import { serve, serveHelp } from './commands/serve.js';

const commands: Record<string, { run: (argv: string[]) => Promise<void>; help: string }> = {
  serve: { run: serve, help: serveHelp },
  produce: { run: produce, help: produceHelp },
  model: { run: model, help: modelHelp },
  predictions: { run: predictions, help: predictionsHelp },
  replay: { run: replay, help: replayHelp },
  schedule: { run: schedule, help: scheduleHelp },
  demo: { run: demoCommand, help: demoHelp },
  config: { run: config, help: configHelp },
};

const usage = `kscore: streaming ML scoring on Kafka

Commands:
${Object.values(commands).map((c) => c.help).join('\n\n')}
`;

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage);
    return;
  }
  const command = commands[name];
  if (command === undefined) throw new UsageError(`unknown command "${name}"\n\n${usage}`);
  await command.run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof ServiceError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`kscore: ${errorMessage(err)}\n`);
    process.exit(2);
  }
  process.stderr.write(`kscore: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
