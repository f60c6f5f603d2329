// The bus-faults scenario's room: simulated machines on the far end of a socat pty pair at
// 19200 8E1 (replies paced to their time on the wire), the gateway (a whole Daemon, in this
// process so its poll cycles can be timed) on the near end through a by-id style symlink that
// can be removed and restored like a USB adapter, a real ledger file, customers swiping cards at
// every free machine and an attendant that starts credited machines and empties finished ones.
import { rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimRoom, type SimUnitConfig } from '../../simulator/index.js';
import { Daemon } from '../../gateway/daemon.js';
import { gatewayConfigSchema } from '../../gateway/config/schema.js';
import { systemClock } from '../../gateway/core/clock.js';
import { createLogger, silentLogger } from '../../gateway/core/log.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { startAttendant, tempDir, testConfig } from '../engine/harness.js';

export const LINE = { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1 } as const;

export const BUS_UNITS: SimUnitConfig[] = [
  { unit: 1, model: 'lw485-washer' },
  { unit: 2, model: 'lw485-washer' },
  { unit: 3, model: 'lw485-washer' },
  { unit: 9, model: 'lw485-dryer' },
  {
    unit: 20,
    model: 'rio8',
    channels: [{ coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 }, null, { coinCents: 50, coinsPerCycle: 4, cycleMinutes: 25 }, null, null, null, null, null],
  },
];

export interface BusMachine {
  unit: number;
  channel?: number;
  coinsPerProgram?: number;
}

export const BUS_MACHINES: Record<string, BusMachine> = {
  W1: { unit: 1 },
  W2: { unit: 2 },
  W3: { unit: 3 },
  D1: { unit: 9 },
  C1: { unit: 20, channel: 0, coinsPerProgram: 7 },
  C3: { unit: 20, channel: 2, coinsPerProgram: 4 },
};

export const CARD_COUNT = 8;
export const busCardUid = (i: number): string => `04BADB05${(0x100000 + i).toString(16).toUpperCase()}`;
export const SEED_CENTS = 100_000_000;

export interface BusRoom {
  sim: SimRoom;
  daemon: Daemon;
  pty: PtyPair;
  /** The path the gateway opens: a symlink to the pty, as /dev/serial/by-id/... is to ttyUSBn. */
  link: string;
  dbPath: string;
  roomSecretPath: string;
  removeAdapter(): void;
  restoreAdapter(): void;
  close(): Promise<void>;
}

export async function startBusRoom(o: { replyTimeoutMs: number; pollIntervalMs: number; timeScale: number }): Promise<BusRoom> {
  const tmp = tempDir('torture-bus-');
  const pty = await openPtyPair();
  const link = join(tmp.dir, 'usb-FTDI_FT232R_USB_UART_TORTURE-if00-port0');
  symlinkSync(pty.a, link);
  const sim = new SimRoom({ units: BUS_UNITS, timeScale: o.timeScale, replyDelayMs: 2, paceBaud: LINE, logger: silentLogger() });
  sim.start();
  await sim.attachSerial({ path: pty.b, baudRate: LINE.baudRate, parity: LINE.parity, stopBits: LINE.stopBits });
  const dbPath = tmp.file('ledger.db');
  const base = testConfig({ port: 1, dbPath, pollIntervalMs: o.pollIntervalMs, replyTimeoutMs: o.replyTimeoutMs });
  const bus = base.buses?.[0];
  if (bus === undefined) throw new Error('test config has no bus');
  const config = gatewayConfigSchema.parse({
    ...base,
    buses: [
      {
        ...bus,
        transport: { type: 'serial', path: link, baudRate: LINE.baudRate, parity: LINE.parity, stopBits: LINE.stopBits },
        units: [
          { unit: 1, profile: 'lw485', machineId: 'W1', kind: 'washer' },
          { unit: 2, profile: 'lw485', machineId: 'W2', kind: 'washer' },
          { unit: 3, profile: 'lw485', machineId: 'W3', kind: 'washer' },
          { unit: 9, profile: 'lw485', machineId: 'D1', kind: 'dryer' },
          {
            unit: 20,
            profile: 'rio8',
            channels: [
              { channel: 0, machineId: 'C1', kind: 'washer', coinCents: 50, coinsPerProgram: { '1': 7 }, cycleMinutes: 30 },
              { channel: 2, machineId: 'C3', kind: 'dryer', coinCents: 50, coinsPerProgram: { '1': 4 }, cycleMinutes: 25 },
            ],
          },
        ],
      },
    ],
  });
  const level = process.env.TORTURE_BUS_LOG;
  const daemon = new Daemon(config, { logger: level ? createLogger({ level, destination: 2 }) : silentLogger(), clock: systemClock });
  const cards = Array.from({ length: CARD_COUNT }, (_, i) => ({ uid: busCardUid(i), accountId: `acct-${i}`, status: 'active' as const }));
  daemon.ledger.applyCardList({ kind: 'full', version: 1, cards });
  for (const c of cards) daemon.ledger.applyTopUp({ cloudId: `seed-${c.accountId}`, accountId: c.accountId, amountCents: SEED_CENTS, accountVersion: 1 });
  await daemon.start();
  let closed = false;
  return {
    sim,
    daemon,
    pty,
    link,
    dbPath,
    roomSecretPath: tmp.file('room-secret'),
    removeAdapter: () => unlinkSync(link),
    restoreAdapter: () => symlinkSync(pty.a, link),
    close: async () => {
      if (closed) return;
      closed = true;
      await daemon.stop();
      await sim.close();
      await pty.close();
      rmSync(tmp.dir, { recursive: true, force: true });
    },
  };
}

/** Presses Start on credited machines and empties finished ones, every `everyMs`. */
export function startBusAttendant(room: SimRoom, everyMs = 20): () => void {
  return startAttendant(room, everyMs, Object.values(BUS_MACHINES));
}

export interface Customers {
  /** Machines no one pays at for now (a measurement wants the bus without their commands). */
  paused: Set<string>;
  outcomes: Map<string, number>;
  /** Called as each card is presented (fault injection aimed at the credit that follows). */
  onSwipe: ((machineId: string) => void) | null;
  stop(): Promise<void>;
}

/** A customer at every machine: a card (rotating) as soon as the gateway shows it free. */
export function startBusCustomers(daemon: Daemon, rnd: () => number): Customers {
  const self: Customers = { paused: new Set<string>(), outcomes: new Map<string, number>(), onSwipe: null, stop: () => Promise.resolve() };
  let running = true;
  let card = 0;
  const { paused, outcomes } = self;
  const one = async (machineId: string): Promise<void> => {
    while (running) {
      const status = daemon.machines.state(machineId)?.status;
      if (!paused.has(machineId) && (status === 'idle' || status === 'done')) {
        self.onSwipe?.(machineId);
        const o = await daemon.engine.cardSwipe({ readerId: `r-${machineId}`, uid: busCardUid(card++ % CARD_COUNT), machineId });
        const key = o.result === 'declined' || o.result === 'refunded' ? `${o.result}:${String(o.reason)}` : o.result;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        await sleep(50 + Math.floor(rnd() * 150));
      }
      await sleep(10 + Math.floor(rnd() * 30));
    }
  };
  const all = Promise.all(Object.keys(BUS_MACHINES).map((m) => one(m)));
  self.stop = async () => {
    running = false;
    await all;
  };
  return self;
}
