// The outage scenario's room: the simulated machines in this process over TCP (as through a
// serial-to-Ethernet converter), a line card reader on a socat pty at every machine, the ledger
// seeded with cards, and the daemon as systemd runs it (`bin/laundry-gateway.mjs run`) in a child
// process with a real config file and a real ledger file. Customers swipe cards at free machines;
// the attendant (engine harness) starts credited machines and empties finished ones.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { openLedger } from '../../storage/index.js';
import { loadOrCreateRoomSecret } from '../../gateway/core/room-secret.js';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';
import { ReaderEmulator } from '../../gateway/readers/reader-emulator.js';
import type { SimRoom } from '../../simulator/index.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { MACHINES, ROOM_ID, startAttendant, startRoom, testConfig, type TestRoom } from '../engine/harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'laundry-gateway.mjs');

/** Enough cards that a reader never sees the same one twice within its 2 s debounce window. */
export const CARD_COUNT = 12;
export const cardUid = (i: number): string => `04C0FFEE${(0x100000 + i).toString(16).toUpperCase()}`;

/** The uplink's timing, a tenth of the defaults, so a 30 s run sees many outages end. */
export const MQTT_TIMING = {
  keepaliveSec: 5,
  connectTimeoutMs: 2000,
  reconnect: { minMs: 100, maxMs: 2000, stableMs: 3000 },
  batch: { maxWaitMs: 100, pollMs: 200, ackTimeoutMs: 1500, ackTimeoutMaxMs: 6000 },
  healthIntervalSec: 10,
} as const;

export interface OutageRoom {
  sim: TestRoom;
  dir: string;
  dbPath: string;
  readers: Map<string, ReaderEmulator>;
  daemon: ChildProcess;
  /** Lines of the daemon's log that matched `keep` (pino JSON), the rest is dropped. */
  kept: string[];
  /** The last ~64 KB of the daemon's output, for a failed start. */
  tail(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  close(): Promise<void>;
}

function seed(dbPath: string): void {
  const l = openLedger({ path: dbPath, roomSecret: loadOrCreateRoomSecret(join(mkdirAnd(dbPath), 'room-secret')), gatewayId: ROOM_ID, bootId: 'outage-seed', clock: systemClock, logger: silentLogger() });
  try {
    const cards = Array.from({ length: CARD_COUNT }, (_, i) => ({ uid: cardUid(i), accountId: `acct-${i}`, status: 'active' as const }));
    l.applyCardList({ kind: 'full', version: 1, cards });
    for (const c of cards) l.applyTopUp({ cloudId: `seed-${c.accountId}`, accountId: c.accountId, amountCents: 100_000_000, accountVersion: 1 });
  } finally {
    l.close();
  }
}

function mkdirAnd(file: string): string {
  const d = join(file, '..');
  mkdirSync(d, { recursive: true });
  return d;
}

export async function startOutageRoom(o: { dir: string; brokerUrl: string; keep: RegExp; timeScale: number }): Promise<OutageRoom> {
  const sim = await startRoom({ timeScale: o.timeScale });
  const ptys: PtyPair[] = [];
  const readers = new Map<string, ReaderEmulator>();
  for (const id of Object.keys(MACHINES)) {
    const p = await openPtyPair();
    ptys.push(p);
    readers.set(id, new ReaderEmulator({ path: p.b, type: 'line' }));
  }
  const ids = Object.keys(MACHINES);
  const dbPath = join(o.dir, 'state', 'ledger.db');
  seed(dbPath);
  const base = testConfig({ port: sim.port, dbPath, pollIntervalMs: 100, replyTimeoutMs: 500 });
  const config = {
    ...base,
    readers: ids.map((id, i) => ({ id: `reader-${id}`, type: 'line', path: ptys[i]?.a ?? '', attachedTo: { machineId: id }, pollMs: 100 })),
    mqtt: { url: o.brokerUrl, ...MQTT_TIMING },
    control: { socketPath: join(o.dir, 'run', 'control.sock') },
    log: { level: 'info' },
  };
  mkdirSync(join(o.dir, 'run'), { recursive: true });
  const configPath = join(o.dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const daemon = spawn(process.execPath, [BIN, 'run', '--config', configPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const kept: string[] = [];
  let partial = '';
  // TORTURE_DAEMON_LOG=<file>: the daemon's whole log, for a failure to be read afterwards.
  const logFile = process.env.TORTURE_DAEMON_LOG;
  const take = (s: string): void => {
    if (logFile) appendFileSync(logFile, s);
    tail = (tail + s).slice(-65_536);
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (o.keep.test(l)) kept.push(l);
  };
  daemon.stdout.setEncoding('utf8').on('data', take);
  daemon.stderr.setEncoding('utf8').on('data', take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    daemon.once('error', () => resolve({ code: -1, signal: null }));
    daemon.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const stopAttendant = startAttendant(sim.room, 20);

  const started = Date.now();
  while (!tail.includes('"msg":"gateway started"')) {
    if (daemon.exitCode !== null || daemon.signalCode !== null || Date.now() - started > 60_000) break;
    await sleep(50);
  }
  const up = tail.includes('"msg":"gateway started"');
  const closeAll = async (): Promise<void> => {
    stopAttendant();
    for (const r of readers.values()) await r.close();
    for (const p of ptys) await p.close();
    await sim.close();
  };
  if (!up) {
    daemon.kill('SIGKILL');
    await exited;
    await closeAll();
    throw new Error(`the daemon did not start:\n${tail.slice(-4000)}`);
  }
  for (const r of readers.values()) await r.open();
  return {
    sim,
    dir: o.dir,
    dbPath,
    readers,
    daemon,
    kept,
    tail: () => tail,
    exited,
    close: async () => {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        daemon.kill('SIGTERM');
        const t = setTimeout(() => daemon.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(t);
      }
      await closeAll();
    },
  };
}

/** Free for the next customer: nothing credited, running or waiting behind the door. */
export function machineFree(room: SimRoom, machineId: string): boolean {
  const m = MACHINES[machineId];
  if (m === undefined) return false;
  if (m.channel === undefined) {
    const s = room.control.lw485(m.unit);
    return s.stateName === 'IDLE' && s.doorClosed && s.pendingSeq === null;
  }
  const ch = room.control.rio8(m.unit).channels[m.channel];
  return ch !== undefined && !ch.trainRunning && ch.pulsesPending === 0 && ch.machine !== null && !ch.machine.inUse && ch.machine.coins === 0;
}

/**
 * One customer after another at each machine: a card swipe (rotating cards, so the reader's
 * debounce never merges two) as soon as the machine is free, then wait for it to be taken.
 */
export function startCustomers(r: OutageRoom, rnd: () => number): { stop(): Promise<void>; swipes(): number } {
  let running = true;
  let swipes = 0;
  let card = 0;
  const one = async (machineId: string): Promise<void> => {
    const reader = r.readers.get(machineId);
    if (reader === undefined) return;
    while (running) {
      if (!machineFree(r.sim.room, machineId)) {
        await sleep(20);
        continue;
      }
      // A person takes a moment to walk up and pay.
      await sleep(50 + Math.floor(rnd() * 250));
      if (!running) return;
      await reader.swipe(cardUid(card++ % CARD_COUNT)).catch(() => undefined);
      swipes++;
      // Wait until the machine is taken, or the vend was refused.
      const until = Date.now() + 3000;
      while (running && machineFree(r.sim.room, machineId) && Date.now() < until) await sleep(20);
    }
  };
  const all = Promise.all(Object.keys(MACHINES).map((m) => one(m)));
  return {
    stop: async () => {
      running = false;
      await all;
    },
    swipes: () => swipes,
  };
}
