// `laundry-gateway token …`: keygen, mint and inspect, for integrators and the cloud team.
// The entry point (written elsewhere) passes the arguments after `token` and where to print.
// Exit codes: 0 done / token valid, 1 token rejected or not decodable, 2 usage error.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { systemClock, type Clock } from '../core/clock.js';
import { ed25519PublicKey, kidOf, toHex } from '../../protocols/qr-token/cose.js';
import { formatInspectReport, inspectToken } from '../../protocols/qr-token/inspect.js';
import { generateKeyPair, mintToken } from '../../protocols/qr-token/mint.js';
import type { TokenClaims } from '../../protocols/qr-token/claims.js';
import type { TrustedKey } from '../../protocols/qr-token/verify.js';

export interface TokenCliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

export interface TokenCliDeps {
  clock?: Clock;
  /** Reads the token from standard input when the text argument is `-`. */
  readStdin?: () => Promise<string>;
}

const USAGE = `usage:
  token keygen [--json]
  token mint --key <privateKey> --room <roomId> --amount <cents> [--machine <id>] [--program <n>]
             [--account <id>] [--ttl <sec, default 600>] [--issuer <iss, default laundry-cloud>]
             [--now <sec>] [--cti <hex, 8-16 bytes>] [--untagged]
  token inspect <text | -> [--room <roomId>] [--key <publicKey>]... [--issuer <iss>] [--machine <id>]
             [--price <cents>] [--now <sec>] [--used <cti hex>]... [--json]
keys are raw 32-byte Ed25519 keys in base64url, as keygen prints them.
quote the token: Base45 text may contain spaces.`;

class UsageError extends Error {}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

/**
 * node:util's parseArgs refuses `--key -Abc…` as ambiguous, yet one base64url key in 64 starts
 * with a dash, as keygen prints it. A value option always takes the next argument, so join the pair
 * as `--key=-Abc…` before parsing.
 */
function attachValues(args: readonly string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const next = args[i + 1];
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (a.startsWith('--') && !a.includes('=') && options[a.slice(2)]?.type === 'string' && next !== undefined) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function int(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new UsageError(`--${name} must be an integer, got "${v}"`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer of at least ${min}`);
  return n;
}

function key32(name: string, v: string): Uint8Array {
  const b = new Uint8Array(Buffer.from(v, 'base64url'));
  if (!/^[A-Za-z0-9_-]{43}$/.test(v) || b.length !== 32) throw new UsageError(`--${name} must be a 32-byte key in base64url (43 characters)`);
  return b;
}

function keygen(args: string[], io: TokenCliIo): number {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true });
  const kp = generateKeyPair();
  const priv = Buffer.from(kp.privateKey).toString('base64url');
  const pub = Buffer.from(kp.publicKey).toString('base64url');
  if (values.json === true) io.out(JSON.stringify({ privateKey: priv, publicKey: pub, kid: kp.kid }));
  else {
    io.out(`privateKey ${priv}`);
    io.out(`publicKey  ${pub}`);
    io.out(`kid        ${kp.kid}`);
    io.err('keep the private key in the cloud signing service only; put the public key in the room configuration (qrTokens.keys).');
  }
  return 0;
}

function mint(args: string[], io: TokenCliIo, clock: Clock): number {
  const options = {
    key: { type: 'string' },
    room: { type: 'string' },
    amount: { type: 'string' },
    machine: { type: 'string' },
    program: { type: 'string' },
    account: { type: 'string' },
    ttl: { type: 'string' },
    issuer: { type: 'string' },
    now: { type: 'string' },
    cti: { type: 'string' },
    untagged: { type: 'boolean' },
  } as const satisfies OptionSpec;
  const { values } = parseArgs({ args: attachValues(args, options), options, strict: true });
  if (values.key === undefined || values.room === undefined || values.amount === undefined) throw new UsageError('mint needs --key, --room and --amount');
  const seed = key32('key', values.key);
  const now = int('now', values.now) ?? Math.floor(clock.now() / 1000);
  const ttl = int('ttl', values.ttl, 1) ?? 600;
  let cti: Uint8Array;
  if (values.cti !== undefined) {
    if (!/^([0-9a-fA-F]{2}){8,16}$/.test(values.cti)) throw new UsageError('--cti must be 8 to 16 bytes in hex');
    cti = new Uint8Array(Buffer.from(values.cti, 'hex'));
  } else cti = new Uint8Array(randomBytes(16));
  const claims: TokenClaims = { iss: values.issuer ?? 'laundry-cloud', aud: values.room, exp: now + ttl, iat: now, cti, amt: int('amount', values.amount) ?? 0 };
  if (values.machine !== undefined) claims.m = values.machine;
  const program = int('program', values.program);
  if (program !== undefined) claims.p = program;
  if (values.account !== undefined) claims.acct = values.account;
  io.out(mintToken(claims, seed, { tagged: values.untagged !== true }));
  return 0;
}

async function inspect(args: string[], io: TokenCliIo, clock: Clock, deps: TokenCliDeps): Promise<number> {
  const options = {
    room: { type: 'string' },
    key: { type: 'string', multiple: true },
    issuer: { type: 'string' },
    machine: { type: 'string' },
    price: { type: 'string' },
    now: { type: 'string' },
    used: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  } as const satisfies OptionSpec;
  const { values, positionals } = parseArgs({ args: attachValues(args, options), options, allowPositionals: true, strict: true });
  if (positionals.length === 0) throw new UsageError('inspect needs the token text (or - to read it from standard input)');
  if (positionals.length > 1) throw new UsageError('inspect takes one token: quote it, Base45 text may contain spaces');
  let text = positionals[0] ?? '';
  if (text === '-') {
    if (!deps.readStdin) throw new UsageError('cannot read standard input here');
    text = (await deps.readStdin()).replace(/[\r\n]+$/, ''); // only line ends: a space is Base45
  }
  const first = inspectToken(text, {}); // to learn the claimed issuer when --issuer is not given
  const claimedIss = typeof first.claims?.['iss'] === 'string' ? first.claims['iss'] : '';
  const issuer = values.issuer ?? claimedIss;
  const trustedKeys: TrustedKey[] = (values.key ?? []).map((k) => {
    const publicKey = key32('key', k);
    return { kid: toHex(kidOf(publicKey)), publicKey, issuer, keyObject: ed25519PublicKey(publicKey) };
  });
  const used = new Set((values.used ?? []).map((u) => u.toLowerCase()));
  const report = inspectToken(text, {
    ...(values.room === undefined ? {} : { roomId: values.room }),
    ...(values.machine === undefined ? {} : { machineId: values.machine }),
    ...(values.price === undefined ? {} : { priceCents: int('price', values.price) ?? 0 }),
    nowSec: int('now', values.now) ?? Math.floor(clock.now() / 1000),
    trustedKeys,
    ...(values.used === undefined ? {} : { isUsed: (id: string) => used.has(id) }),
  });
  if (values.json === true) io.out(JSON.stringify(report, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v), 2));
  else {
    io.out(formatInspectReport(report));
    if (trustedKeys.length > 0 && values.issuer === undefined) io.err('note: no --issuer given, so the token\'s own iss was taken as the key\'s issuer');
  }
  if (trustedKeys.length === 0) return report.claims ? 0 : 1;
  return report.verdict?.ok === true ? 0 : 1;
}

export async function runTokenCommand(args: string[], io: TokenCliIo, deps: TokenCliDeps = {}): Promise<number> {
  const clock = deps.clock ?? systemClock;
  const rest = args[0] === 'token' ? args.slice(1) : args;
  const [cmd, ...tail] = rest;
  try {
    switch (cmd) {
      case 'keygen':
        return keygen(tail, io);
      case 'mint':
        return mint(tail, io, clock);
      case 'inspect':
        return await inspect(tail, io, clock, deps);
      case undefined:
      case 'help':
      case '--help':
        io.out(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        io.err(`unknown token command "${cmd}"`);
        io.err(USAGE);
        return 2;
    }
  } catch (e) {
    // parseArgs throws TypeErrors with an ERR_PARSE_ARGS_* code for unknown or malformed options
    const isParse = e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS');
    if (e instanceof z.ZodError) {
      io.err(`invalid claims: ${e.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return 2;
    }
    if (e instanceof UsageError || isParse) {
      io.err(e.message);
      io.err(USAGE);
      return 2;
    }
    throw e;
  }
}
