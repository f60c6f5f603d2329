// The gateway as systemd runs it (`laundry-gateway run --config`), a child process on a ledger
// file the test reads back between runs; the simulated room stays in the test's process, so the
// machines outlive the gateway's crash as in a real room.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLedger, type Ledger } from '../../storage/index.js';
import { loadOrCreateRoomSecret } from '../../gateway/core/room-secret.js';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';
import { ROOM_ID } from '../engine/harness.js';

const BIN = fileURLToPath(new URL('../../bin/laundry-gateway.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface GatewayRun {
  child: ChildProcess;
  /** Its stdout and stderr so far (pino JSON lines). */
  log(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Children still running: a failed test's after() kills them, so none outlives the test file. */
const running = new Set<ChildProcess>();

export function runGateway(configPath: string): GatewayRun {
  const child = spawn(process.execPath, [BIN, 'run', '--config', configPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, log: () => out, exited };
}

/** SIGKILLs the children this file started that are still running (a test that failed half-way). */
export function killLeftovers(): void {
  for (const c of running) c.kill('SIGKILL');
}

/** Opens the ledger file while no gateway runs on it (the room secret beside it), reads, closes. */
export function readLedger<T>(dbPath: string, read: (l: Ledger) => T): T {
  const l = openLedger({ path: dbPath, roomSecret: loadOrCreateRoomSecret(join(dirname(dbPath), 'room-secret')), gatewayId: ROOM_ID, bootId: 'test-check', clock: systemClock, logger: silentLogger() });
  try {
    return read(l);
  } finally {
    l.close();
  }
}
