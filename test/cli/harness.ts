// A whole gateway under test: the demo room simulated in this process over TCP, a line card
// reader on a socat pty attached to W1, the ledger seeded with the demo cards, and the daemon as
// systemd runs it (`node bin/laundry-gateway.mjs run`) in a child process. The CLI is run the
// same way, one real process per command.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimRoom, demoRoomUnits } from '../../simulator/index.js';
import { DEMO_CARDS, DEMO_ROOM_ID, demoGatewayConfig } from '../../gateway/demo/room.js';
import { keyPairFromSeed } from '../../protocols/qr-token/index.js';
import { openLedger } from '../../storage/index.js';
import { loadOrCreateRoomSecret } from '../../gateway/core/room-secret.js';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';
import { controlRequest } from '../../gateway/control/client.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { slow } from '../helpers/slowdown.js';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const BIN = join(ROOT, 'bin', 'laundry-gateway.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, ms = slow(30_000)): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), slow(60_000));
    p.once('error', reject);
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Gateway {
  dir: string;
  configPath: string;
  socketPath: string;
  dbPath: string;
  room: SimRoom;
  reader: PtyPair;
  child: ChildProcess;
  /** The daemon's stdout and stderr so far (pino JSON lines). */
  logs(): string;
  waitForLog(re: RegExp, what: string, ms?: number): Promise<void>;
  cli(...args: string[]): Promise<CliResult>;
  /** Resolves with the exit code once the daemon has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Presents a card at the W1 reader. */
  swipe(uid: string): void;
  close(): Promise<void>;
}

export interface GatewayOptions {
  env?: NodeJS.ProcessEnv;
  /** Real ms before an LW-485 shows a command's result (a slow device keeps a vend in flight longer). */
  commandResultDelayMs?: number;
  /** How long start-up may take (default 45 s; under arm64 emulation everything is 10-16x slower, and a bench on a loaded machine may need more). */
  readyTimeoutMs?: number;
}

function seedLedger(dbPath: string): void {
  const ledger = openLedger({
    path: dbPath,
    roomSecret: loadOrCreateRoomSecret(join(dirname(dbPath), 'room-secret')),
    gatewayId: DEMO_ROOM_ID,
    bootId: 'test-seed',
    clock: systemClock,
    logger: silentLogger(),
  });
  for (const c of DEMO_CARDS) ledger.applyAccountSnapshot({ accountId: c.accountId, version: 1, balanceCents: c.balanceCents, points: 0, tier: c.tier, coveredSeq: 0 });
  ledger.applyCardList({ kind: 'full', version: 1, cards: DEMO_CARDS.map((c) => ({ uid: c.uid, accountId: c.accountId, status: 'active' as const })) });
  ledger.close();
}

export async function startGateway(o: GatewayOptions = {}): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'lgw-cli-'));
  const room = new SimRoom({ units: demoRoomUnits(), timeScale: 1, logger: silentLogger(), ...(o.commandResultDelayMs !== undefined ? { commandResultDelayMs: o.commandResultDelayMs } : {}) });
  room.start();
  const { port } = await room.listenTcp({ host: '127.0.0.1', port: 0, framing: 'rtu' });
  const reader = await openPtyPair();
  const dbPath = join(dir, 'state', 'ledger.db');
  const socketPath = join(dir, 'run', 'control.sock');
  const qr = keyPairFromSeed(new Uint8Array(32).fill(7));
  const demo = demoGatewayConfig({ tcpPort: port, dbPath, qrPublicKey: Buffer.from(qr.publicKey).toString('base64url') });
  const config = {
    ...demo,
    // generous: the simulator shares this process's CPU with a busy test run
    buses: demo.buses.map((b) => ({ ...b, replyTimeoutMs: 1000 })),
    readers: [{ id: 'r-w1', type: 'line', path: reader.a, attachedTo: { machineId: 'W1' }, pollMs: 50 }],
    control: { socketPath },
  };
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  seedLedger(dbPath);

  const child = spawn(process.execPath, [BIN, 'run', '--config', configPath], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));

  const gw: Gateway = {
    dir,
    configPath,
    socketPath,
    dbPath,
    room,
    reader,
    child,
    logs: () => log,
    waitForLog: (re, what, ms) => waitUntil(() => re.test(log), `${what} in the daemon log:\n${log.slice(-3000)}`, ms),
    cli: (...args) => runCli([...args, '--config', configPath]),
    exited,
    swipe: (uid) => writeFileSync(reader.b, `${uid}\r\n`),
    close: async () => {
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
      await reader.close();
      await room.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntil(
      async () => {
        if (done) throw new Error(`the daemon exited during start-up:\n${log}`);
        const r = await controlRequest({ socketPath, timeoutMs: 2000 }, { cmd: 'status' });
        return r.kind === 'ok' && r.result.buses.every((b) => b.unitsDiscovered === b.unitsConfigured) && /"msg":"ready"/.test(log);
      },
      'the daemon to be ready with every unit discovered',
      o.readyTimeoutMs ?? slow(45_000),
    );
  } catch (e) {
    await gw.close();
    throw e;
  }
  return gw;
}
