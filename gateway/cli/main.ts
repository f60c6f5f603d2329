// `laundry-gateway <command>`: the daemon (`run`) and the tools an operator or integrator uses
// over SSH. Output is for people (or JSON with --json); the daemon itself logs through pino.
import { gatewayConfigSchema } from '../config/schema.js';
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../core/log.js';
import { systemClock } from '../core/clock.js';
import { runTokenCommand } from '../tokens/cli.js';

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
};
const err = (s: string): void => {
  process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
};

const USAGE = `usage: laundry-gateway <command>

  run --config FILE            run the gateway daemon
  config check --config FILE   validate a config file and exit (0 good, 2 bad)
  token keygen|mint|inspect    QR vend token tools (laundry-gateway token --help)
`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function run(args: string[]): Promise<number> {
  const file = option(args, '--config') ?? process.env.LAUNDRY_GATEWAY_CONFIG;
  if (file === undefined) {
    err('run: --config FILE is required');
    return 2;
  }
  const loaded = loadConfigFile(file, gatewayConfigSchema);
  if (!loaded.ok) {
    for (const e of loaded.errors) err(e);
    err(`config ${file} is not valid: nothing was started`);
    return 2;
  }
  const logger = createLogger({ level: loaded.config.log.level });
  const { Daemon } = await import('../daemon.js');
  const daemon = new Daemon(loaded.config, { logger, clock: systemClock });
  await daemon.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await daemon.stop();
  return 0;
}

function configCheck(args: string[]): number {
  const file = option(args, '--config');
  if (file === undefined) {
    err('config check: --config FILE is required');
    return 2;
  }
  const loaded = loadConfigFile(file, gatewayConfigSchema);
  if (!loaded.ok) {
    for (const e of loaded.errors) err(e);
    return 2;
  }
  const c = loaded.config;
  const machines = c.buses.reduce((n, b) => n + b.units.length, 0);
  out(`${file}: ok (room ${c.room.id}, ${c.buses.length} bus(es), ${machines} unit(s), ${c.readers.length} reader(s), price rules ${c.pricing.version})`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'run':
      return run(rest);
    case 'config':
      if (rest[0] === 'check') return configCheck(rest.slice(1));
      err(USAGE);
      return 2;
    case 'token':
      return runTokenCommand(rest, { out, err });
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      err(`unknown command "${cmd}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    err(`laundry-gateway: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  },
);
