// `laundry-gateway card sun [--meta-key HEX --master-key HEX --system-id ID] 'LINE'`: checks one
// SUN message (a type S line, or the URL an NFC phone reads from a secure card) the way the
// gateway does, without the ledger: it says whether the message is genuine and what it carries,
// not whether its counter was already spent. Without the key flags it uses the room's key file
// (the config's secureCards.keyFile, every live version). Keys are never printed.
// Exit: 0 genuine ({"uid","counter"} on stdout), 1 refused (the reason on stdout), 2 usage.
import { loadConfigFile } from '../config/load.js';
import { loadSecureCardKeys } from '../secure-cards/keys.js';
import { SYSTEM_ID_PATTERN, verifySunUri, type SunKeySet } from '../../protocols/secure-card/index.js';
import { EXIT, UsageError, parseArgs } from './args.js';
import { configPathOf, runConfigSchema } from './config.js';
import type { CliIo } from './commands.js';

export const CARD_SUN_USAGE = `usage: laundry-gateway card sun [--meta-key HEX --master-key HEX --system-id ID | --config FILE] 'LINE'
  prints {"uid": …, "counter": …} and exits 0 for a genuine message, or the reason
  (bad_format, unknown_card, bad_mac) and exits 1. Without the key flags: the room's key file.
  Quote the line: it contains '&'.`;

function keyArg(name: string, v: string): Buffer {
  if (!/^[0-9A-Fa-f]{32}$/.test(v)) throw new UsageError(`${name} must be 32 hex digits (a 16-byte AES key)`);
  return Buffer.from(v, 'hex');
}

function flagKeys(meta: string, master: string, systemId: string): SunKeySet[] {
  if (!SYSTEM_ID_PATTERN.test(systemId)) throw new UsageError('--system-id must be 9 to 24 printable ASCII characters');
  return [{ version: 1, metaKey: keyArg('--meta-key', meta), masterKey: keyArg('--master-key', master), systemId }];
}

/** The room's live keys, from the key file the config names; null (reported) when impossible. */
function roomKeys(configFlag: string | undefined, io: CliIo): SunKeySet[] | null {
  const file = configPathOf(configFlag);
  const cfg = loadConfigFile(file, runConfigSchema);
  if (!cfg.ok) {
    for (const e of cfg.errors) io.err(e);
    return null;
  }
  const sc = cfg.config.secureCards;
  if (sc === undefined) {
    io.err(`${file}: no secureCards block, so no key file; give --meta-key, --master-key and --system-id`);
    return null;
  }
  const keys = loadSecureCardKeys(sc.keyFile);
  if (!keys.ok) {
    for (const e of keys.errors) io.err(e);
    return null;
  }
  return [...keys.keys.sets];
}

export function runCardSun(argv: readonly string[], io: CliIo): number {
  const args = parseArgs(argv, { values: ['--meta-key', '--master-key', '--system-id', '--config'], bools: ['--help'] });
  if (args.bools.has('--help')) {
    io.out(CARD_SUN_USAGE);
    return EXIT.ok;
  }
  if (args.positional.length !== 1) throw new UsageError(`card sun takes one line (quoted)\n${CARD_SUN_USAGE}`);
  const line = (args.positional[0] ?? '').trim();
  const meta = args.values.get('--meta-key');
  const master = args.values.get('--master-key');
  const systemId = args.values.get('--system-id');
  const given = [meta, master, systemId].filter((v) => v !== undefined).length;
  if (given !== 0 && given !== 3) throw new UsageError('give all three of --meta-key, --master-key and --system-id, or none (the room key file)');
  if (given === 3 && args.values.has('--config')) throw new UsageError('--config is for the room key file; not with the key flags');
  const keys = meta !== undefined && master !== undefined && systemId !== undefined ? flagKeys(meta, master, systemId) : roomKeys(args.values.get('--config'), io);
  if (keys === null) return EXIT.usage;
  const r = verifySunUri(line, keys);
  if (!r.ok) {
    io.out(r.reason);
    io.err(`${r.reason}: ${r.detail}`);
    return EXIT.failed;
  }
  io.out(JSON.stringify({ uid: r.uid, counter: r.counter }));
  return EXIT.ok;
}
