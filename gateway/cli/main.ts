// `laundry-gateway <command>`: the daemon (`run`) and the tools an operator or integrator uses
// over SSH. Output is for people (or JSON with --json); the daemon itself logs through pino.
// Exit codes: 0 ok, 1 failed (or a check failed), 2 usage or config error, 3 daemon not running.
import { loadConfigFile } from '../config/load.js';
import { runTokenCommand } from '../tokens/cli.js';
import { EXIT, UsageError, parseArgs } from './args.js';
import { runCardSun } from './card-sun.js';
import { loadSecureCardKeys } from '../secure-cards/keys.js';
import * as commands from './commands.js';
import { configPathOf, resolveEndpoints, runConfigSchema } from './config.js';
import { doctor, formatDoctor } from './doctor.js';
import { runDaemon } from './run.js';

const out = (s: string): void => {
  process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
};
const err = (s: string): void => {
  process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
};

const USAGE = `usage: laundry-gateway <command> [--config FILE] [--socket PATH] [--json]

  run --config FILE              run the gateway daemon (systemd starts it so)
  config check --config FILE     validate a config file and exit (0 good, 2 bad)

  status                         daemon, buses, machines, outbox, ledger (exit 3: not running)
  machines                       every machine's last polled state
  bus scan [--from N --to N --timeout MS] [--bus ID]
                                 who answers on the bus (through the daemon's bus master)
  bus read <unit> <fc> <addr> <count> [--bus ID]
                                 read coils (1), inputs (2), holding (3) or input registers (4)
  bus write <unit> <addr> <value> [--bus ID]
                                 write one holding register (recorded as an alert)
  tx [--limit N]                 recent transactions
  outbox [--dead N]              uplink outbox depth and dead letters
  audit verify [--audit-head SEQ:HASH] [--money-head SEQ:HASH]
                                 the audit trail's hash chain, every money row against the money
                                 chain, and the heads the cloud acknowledged (or given) still in
                                 both (exit 1: broken or tampered; each row named)
  card show|block|unblock <uid>  a card's list entry and balance; a local block
  card sun [--meta-key HEX --master-key HEX --system-id ID] 'LINE'
                                 check a secure card's SUN message (keys: flags or the room's key file)
  db backup <path> [--force]     consistent copy of the ledger, checked after copying
  doctor                         devices, database, disk, clock, broker, service
  token keygen|mint|inspect      QR vend token tools (laundry-gateway token --help)

The config defaults to $LAUNDRY_GATEWAY_CONFIG or /etc/laundry-gateway/config.json.
status, tx, outbox, audit verify and card show read the ledger file when the daemon is down;
machines, bus and card block|unblock need the running daemon.
`;

function configCheck(args: string[]): number {
  const parsed = parseArgs(args, { values: ['--config'], bools: [] });
  const file = parsed.values.get('--config');
  if (file === undefined) {
    err('config check: --config FILE is required');
    return EXIT.usage;
  }
  const loaded = loadConfigFile(file, runConfigSchema);
  if (!loaded.ok) {
    for (const e of loaded.errors) err(e);
    return EXIT.usage;
  }
  const c = loaded.config;
  const machines = c.buses.reduce((n, b) => n + b.units.length, 0);
  // A key file that is there must load for the room to start (docs/secure-cards.md); one not
  // there yet is waited for (the key downlink writes it).
  if (c.secureCards !== undefined) {
    const keys = loadSecureCardKeys(c.secureCards.keyFile);
    if (!keys.ok && keys.missing === true) {
      out(`${c.secureCards.keyFile}: not there yet (the room starts and declines every secure tap unknown_card until the key downlink or the operator provides it)`);
    } else if (!keys.ok) {
      for (const e of keys.errors) err(e);
      return EXIT.usage;
    } else {
      out(`${c.secureCards.keyFile}: ok (secure-card key versions ${keys.keys.versions.join(', ')})`);
    }
  }
  out(`${file}: ok (room ${c.room.id}, ${c.buses.length} bus(es), ${machines} unit(s), ${c.readers.length} reader(s), price rules ${c.pricing.version}, control socket ${c.control.socketPath})`);
  return EXIT.ok;
}

const CLIENT_COMMANDS = {
  status: commands.status,
  machines: commands.machines,
  bus: commands.bus,
  tx: commands.tx,
  outbox: commands.outbox,
  audit: commands.audit,
  card: commands.card,
  db: commands.dbBackup,
} as const;

function isClientCommand(c: string): c is keyof typeof CLIENT_COMMANDS {
  return Object.hasOwn(CLIENT_COMMANDS, c);
}

const VALUE_FLAGS = ['--config', '--socket', '--bus', '--limit', '--from', '--to', '--timeout', '--dead', '--audit-head', '--money-head'] as const;
const BOOL_FLAGS = ['--json', '--force'] as const;

async function clientCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { values: VALUE_FLAGS, bools: BOOL_FLAGS });
  const cmd = args.positional[0] ?? '';
  const socketFlag = args.values.get('--socket');
  const endpoints = resolveEndpoints({ configFlag: args.values.get('--config'), ...(socketFlag !== undefined ? { socketFlag } : {}) });
  const json = args.bools.has('--json');
  if (cmd === 'doctor') {
    const results = await doctor({ endpoints });
    out(json ? JSON.stringify(results, null, 2) : formatDoctor(results));
    return results.some((r) => r.level === 'fail') ? EXIT.failed : EXIT.ok;
  }
  if (!isClientCommand(cmd)) {
    err(`unknown command "${cmd}"\n${USAGE}`);
    return EXIT.usage;
  }
  return CLIENT_COMMANDS[cmd]({ io: { out, err }, args, json, endpoints });
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'run': {
        const parsed = parseArgs(rest, { values: ['--config'], bools: [] });
        return await runDaemon(configPathOf(parsed.values.get('--config')), { err });
      }
      case 'config':
        if (rest[0] === 'check') return configCheck(rest.slice(1));
        err(USAGE);
        return EXIT.usage;
      case 'token':
        return await runTokenCommand(rest, { out, err });
      case 'card':
        if (rest[0] === 'sun') return runCardSun(rest.slice(1), { out, err });
        return await clientCommand(argv);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(USAGE);
        return cmd === undefined ? EXIT.usage : EXIT.ok;
      default:
        return await clientCommand(argv);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message}\n(laundry-gateway --help for usage)`);
      return EXIT.usage;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // The daemon exits as soon as it has stopped: a stray timer must not outlast the stop timeout.
    if (process.argv[2] === 'run') process.exit(code);
    process.exitCode = code;
  },
  (e: unknown) => {
    err(`laundry-gateway: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  },
);
