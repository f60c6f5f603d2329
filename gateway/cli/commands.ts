// The diagnostics commands. Each asks the running daemon over the control socket; those that
// only read the ledger fall back to opening it read-only when the daemon is down. Bus commands
// and writes never fall back: only the daemon may open the bus port or write the ledger.
import { accessSync, chmodSync, constants, existsSync, rmSync, statSync } from 'node:fs';
import { controlRequest, type ClientResult } from '../control/client.js';
import type { ControlCommand, RequestFor, ResultOf, StatusResult } from '../control/protocol.js';
import { auditResult, cardResult, ledgerSummary, outboxResult, txResult } from '../control/queries.js';
import { EXIT, UsageError, intArg, type ParsedArgs } from './args.js';
import type { Endpoints } from './config.js';
import { bytes, formatAudit, formatCard, formatMachines, formatOutbox, formatRead, formatScan, formatStatus, formatTx, formatWrite } from './format.js';
import { LedgerUnavailableError, openLedgerReadOnly, type ReadOnlyLedger } from '../../storage/readonly.js';

export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}

export interface CommandContext {
  io: CliIo;
  args: ParsedArgs;
  json: boolean;
  endpoints: Endpoints;
}

type Printer<C extends ControlCommand> = (r: ResultOf<C>) => string;

/** Bus scans hold the line for up to 247 x the probe timeout; everything else is quick. */
const DEFAULT_TIMEOUT_MS = 15_000;
const SCAN_TIMEOUT_MS = 300_000;

function emit<C extends ControlCommand>(ctx: CommandContext, result: ResultOf<C>, print: Printer<C>): void {
  ctx.io.out(ctx.json ? JSON.stringify(result, null, 2) : print(result));
}

function ask<C extends ControlCommand>(ctx: CommandContext, req: RequestFor<C>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ClientResult<C>> {
  return controlRequest({ socketPath: ctx.endpoints.socketPath, timeoutMs }, req);
}

/** Opens the ledger read-only; prints why not and returns null when that is impossible. */
function openReadOnly(ctx: CommandContext): ReadOnlyLedger | null {
  const loc = ctx.endpoints.ledger;
  if (loc === null) {
    ctx.io.err(`cannot read the config ${ctx.endpoints.configPath}, so the ledger file is unknown:`);
    for (const e of ctx.endpoints.configErrors) ctx.io.err(`  ${e}`);
    return null;
  }
  try {
    return openLedgerReadOnly(loc);
  } catch (e) {
    ctx.io.err(e instanceof LedgerUnavailableError ? e.message : `cannot open the ledger: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}

function failure(ctx: CommandContext, r: Exclude<ClientResult<ControlCommand>, { kind: 'ok' }>): number {
  switch (r.kind) {
    case 'error':
      ctx.io.err(`error (${r.code}): ${r.message}`);
      return r.code === 'bad_request' || r.code === 'unknown_bus' ? EXIT.usage : EXIT.failed;
    case 'not-running':
      ctx.io.err(`daemon not running: ${r.detail}`);
      return EXIT.notRunning;
    case 'denied':
    case 'failed':
      ctx.io.err(r.detail);
      return EXIT.failed;
  }
}

/** Socket only: the daemon must be running. */
async function viaDaemon<C extends ControlCommand>(ctx: CommandContext, req: RequestFor<C>, print: Printer<C>, exitOf: (r: ResultOf<C>) => number = () => EXIT.ok, timeoutMs?: number): Promise<number> {
  const r = await ask(ctx, req, timeoutMs);
  if (r.kind !== 'ok') return failure(ctx, r);
  emit(ctx, r.result, print);
  return exitOf(r.result);
}

/** The daemon if it runs, else the ledger file read-only. */
async function withFallback<C extends ControlCommand>(
  ctx: CommandContext,
  req: RequestFor<C>,
  fromLedger: (l: ReadOnlyLedger) => ResultOf<C>,
  print: Printer<C>,
  exitOf: (r: ResultOf<C>) => number = () => EXIT.ok,
): Promise<number> {
  const r = await ask(ctx, req);
  if (r.kind === 'ok') {
    emit(ctx, r.result, print);
    return exitOf(r.result);
  }
  if (r.kind !== 'not-running') return failure(ctx, r);
  const ledger = openReadOnly(ctx);
  if (ledger === null) {
    ctx.io.err('daemon not running, and the ledger cannot be read either');
    return EXIT.notRunning;
  }
  try {
    ctx.io.err(`daemon not running: read from ${ledger.path}`);
    const result = fromLedger(ledger);
    emit(ctx, result, print);
    return exitOf(result);
  } finally {
    ledger.close();
  }
}

export async function status(ctx: CommandContext): Promise<number> {
  const r = await ask(ctx, { cmd: 'status' });
  if (r.kind === 'ok') {
    emit<'status'>(ctx, r.result, formatStatus);
    return EXIT.ok;
  }
  if (r.kind !== 'not-running') return failure(ctx, r);
  // Degraded: what the ledger file can tell, and exit 3 like `systemctl status` of a stopped unit.
  ctx.io.err(`daemon not running: ${r.detail}`);
  const ledger = openReadOnly(ctx);
  if (ledger === null) {
    ctx.io.out(ctx.json ? JSON.stringify({ daemon: null }) : 'daemon      NOT RUNNING');
    return EXIT.notRunning;
  }
  try {
    const c = ctx.endpoints.config;
    const result: StatusResult = {
      daemon: null,
      room: { id: c?.room.id ?? '?', name: c?.room.name ?? null },
      buses: [],
      machines: null,
      outbox: ledger.outbox.stats(),
      ledger: ledgerSummary(ledger),
    };
    emit<'status'>(ctx, result, formatStatus);
  } finally {
    ledger.close();
  }
  return EXIT.notRunning;
}

export function machines(ctx: CommandContext): Promise<number> {
  return viaDaemon(ctx, { cmd: 'machines' }, formatMachines);
}

function busOption(ctx: CommandContext): { bus?: string } {
  const b = ctx.args.values.get('--bus');
  return b === undefined ? {} : { bus: b };
}

export function bus(ctx: CommandContext): Promise<number> {
  const [, sub, ...p] = ctx.args.positional;
  switch (sub) {
    case 'scan': {
      const from = intArg('--from', ctx.args.values.get('--from') ?? '1', 1, 247);
      const to = intArg('--to', ctx.args.values.get('--to') ?? '247', 1, 247);
      const timeoutMs = intArg('--timeout', ctx.args.values.get('--timeout') ?? '50', 10, 1000);
      if (!ctx.json) ctx.io.err(`scanning units ${from}..${to} through the daemon's bus master (up to ${Math.ceil(((to - from + 1) * timeoutMs) / 1000)} s)…`);
      return viaDaemon(ctx, { cmd: 'bus.scan', ...busOption(ctx), from, to, timeoutMs }, formatScan, () => EXIT.ok, SCAN_TIMEOUT_MS);
    }
    case 'read': {
      const unit = intArg('unit', p[0], 1, 247);
      const fc = intArg('function code', p[1], 1, 4) as 1 | 2 | 3 | 4;
      const address = intArg('address', p[2], 0, 0xffff);
      const count = intArg('count', p[3], 1, 125);
      return viaDaemon(ctx, { cmd: 'bus.read', ...busOption(ctx), unit, fc, address, count }, formatRead, (r) => (r.outcome === 'reply' ? EXIT.ok : EXIT.failed));
    }
    case 'write': {
      const unit = intArg('unit', p[0], 1, 247);
      const address = intArg('address', p[1], 0, 0xffff);
      const value = intArg('value', p[2], 0, 0xffff);
      return viaDaemon(ctx, { cmd: 'bus.write', ...busOption(ctx), unit, address, value }, formatWrite, (r) => (r.outcome === 'reply' ? EXIT.ok : EXIT.failed));
    }
    default:
      throw new UsageError('bus scan | bus read <unit> <fc> <addr> <count> | bus write <unit> <addr> <value>');
  }
}

export function tx(ctx: CommandContext): Promise<number> {
  const limit = intArg('--limit', ctx.args.values.get('--limit') ?? '20', 1, 1000);
  return withFallback(ctx, { cmd: 'tx', limit }, (l) => txResult(l, limit), formatTx);
}

export function outbox(ctx: CommandContext): Promise<number> {
  const dead = intArg('--dead', ctx.args.values.get('--dead') ?? '5', 0, 100);
  return withFallback(ctx, { cmd: 'outbox', deadLetters: dead }, (l) => outboxResult(l, dead), formatOutbox);
}

const AUDIT_USAGE = 'audit verify [--audit-head SEQ:HASH] [--money-head SEQ:HASH]  (heads: the cloud\'s, to prove the file against)';

/** `SEQ:HASH` as the cloud gives a head (its consumer's heads(gatewayId)). */
function headArg(flag: string, ctx: CommandContext): { seq: number; hash: string } | undefined {
  const v = ctx.args.values.get(flag);
  if (v === undefined) return undefined;
  const m = /^(\d{1,15}):([0-9a-f]{64})$/.exec(v);
  if (m === null) throw new UsageError(`${flag} takes SEQ:HASH (a number, a colon, 64 hex digits), not ${JSON.stringify(v.slice(0, 80))}`);
  return { seq: Number(m[1]), hash: m[2] ?? '' };
}

/** The ledger read-only when this user can read the file; null (silently) when not. */
function readableLedger(ctx: CommandContext): ReadOnlyLedger | null {
  const loc = ctx.endpoints.ledger;
  if (loc === null) return null;
  try {
    accessSync(loc.path, constants.R_OK);
    return openLedgerReadOnly(loc);
  } catch {
    return null;
  }
}

export function audit(ctx: CommandContext): Promise<number> {
  if (ctx.args.positional[1] !== 'verify') throw new UsageError(AUDIT_USAGE);
  const auditHead = headArg('--audit-head', ctx);
  const moneyHead = headArg('--money-head', ctx);
  const heads = { audit: auditHead, money: moneyHead };
  const exitOf = (r: { ok: boolean }): number => (r.ok ? EXIT.ok : EXIT.failed);
  // One pass over every money row: done here when the file is readable (root, the service user),
  // so that a year's ledger does not hold up the daemon's event loop, which polls the machines.
  const direct = readableLedger(ctx);
  if (direct !== null) {
    try {
      const r = auditResult(direct, heads);
      emit<'audit.verify'>(ctx, r, formatAudit);
      return Promise.resolve(exitOf(r));
    } finally {
      direct.close();
    }
  }
  const req = { cmd: 'audit.verify' as const, ...(auditHead ? { auditHead } : {}), ...(moneyHead ? { moneyHead } : {}) };
  return withFallback(ctx, req, (l) => auditResult(l, heads), formatAudit, exitOf);
}

export function card(ctx: CommandContext): Promise<number> {
  const [, sub, uid] = ctx.args.positional;
  if (uid === undefined || !/^[0-9A-Fa-f]{4,32}$/.test(uid)) throw new UsageError('card show|block|unblock <uid>  (the UID in hex, as the reader prints it)');
  switch (sub) {
    case 'show':
      return withFallback(ctx, { cmd: 'card.show', uid }, (l) => cardResult(l, uid), formatCard);
    case 'block':
      return viaDaemon(ctx, { cmd: 'card.block', uid }, (r) => `card ${r.mask} blocked locally\n${formatCard(r)}`);
    case 'unblock':
      return viaDaemon(ctx, { cmd: 'card.unblock', uid }, (r) => `local block of card ${r.mask} lifted\n${formatCard(r)}`);
    default:
      throw new UsageError('card show|block|unblock <uid>');
  }
}

/**
 * A consistent copy through SQLite's online backup, made by the CLI itself from a read-only
 * connection: the daemon's sandbox (ProtectSystem=strict, ProtectHome) could not write to the
 * operator's path, and this works the same whether or not the daemon runs.
 */
export async function dbBackup(ctx: CommandContext): Promise<number> {
  const [, sub, dest] = ctx.args.positional;
  if (sub !== 'backup' || dest === undefined) throw new UsageError('db backup <path>');
  if (existsSync(dest) && !ctx.args.bools.has('--force')) {
    ctx.io.err(`${dest} exists: not overwriting it (use --force)`);
    return EXIT.failed;
  }
  const ledger = openReadOnly(ctx);
  if (ledger === null) return EXIT.failed;
  let pages: number;
  try {
    pages = (await ledger.backup(dest)).totalPages;
  } catch (e) {
    ctx.io.err(`backup failed: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.failed;
  } finally {
    ledger.close();
  }
  // holds account ids and card hashes: readable by its owner only
  chmodSync(dest, 0o600);
  const copy = ctx.endpoints.ledger ? openLedgerReadOnly({ ...ctx.endpoints.ledger, path: dest }) : null;
  const check = copy?.integrityCheck({ quick: true });
  const verdict = copy?.verifyAudit();
  copy?.close();
  // the read-only check leaves empty -wal/-shm beside the fresh copy, which nobody else uses
  for (const f of [`${dest}-wal`, `${dest}-shm`]) rmSync(f, { force: true });
  const ok = check?.ok === true && verdict?.ok === true;
  const result = { path: dest, pages, bytes: statSync(dest).size, integrity: check?.ok ?? false, auditIntact: verdict?.ok ?? false };
  ctx.io.out(ctx.json ? JSON.stringify(result, null, 2) : `backed up ${pages} pages (${bytes(result.bytes)}) to ${dest}; copy integrity ${result.integrity ? 'ok' : 'FAILED'}, audit trail ${result.auditIntact ? 'intact' : 'BROKEN'}`);
  return ok ? EXIT.ok : EXIT.failed;
}
