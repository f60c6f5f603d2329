// Shared set-up for the vend engine tests: a small simulated room on a TCP port (RTU framing, as
// through a serial-to-Ethernet converter), a real Daemon against it with a real ledger file in a
// temp dir, cards and balances seeded through the ledger's own API. No mocks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SimActionError, SimRoom, type SimUnitConfig } from '../../simulator/index.js';
import { Daemon, type DaemonDeps } from '../../gateway/daemon.js';
import { gatewayConfigSchema, type GatewayConfigInput } from '../../gateway/config/schema.js';
import { systemClock } from '../../gateway/core/clock.js';
import { createLogger, silentLogger, type Logger } from '../../gateway/core/log.js';
import { demoGatewayConfig } from '../../gateway/demo/room.js';
import { generateKeyPair, mintToken, type Ed25519KeyPair } from '../../protocols/qr-token/mint.js';
import type { Ledger } from '../../storage/index.js';
import { slow } from '../helpers/slowdown.js';

export const ROOM_ID = 'test-room';

/** W1, W2 washers (units 1, 2), D1 dryer (unit 9), RIO-8 (unit 20) with C1 washer on ch 0, C3 dryer on ch 2. */
export const UNITS: SimUnitConfig[] = [
  { unit: 1, model: 'lw485-washer' },
  { unit: 2, model: 'lw485-washer' },
  { unit: 9, model: 'lw485-dryer' },
  {
    unit: 20,
    model: 'rio8',
    channels: [{ coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 }, null, { coinCents: 50, coinsPerCycle: 4, cycleMinutes: 25 }, null, null, null, null, null],
  },
];

/** Where each machine is in the simulator: unit, and channel for a RIO-8. */
export const MACHINES: Record<string, { unit: number; channel?: number; coinsPerProgram?: number }> = {
  W1: { unit: 1 },
  W2: { unit: 2 },
  D1: { unit: 9 },
  C1: { unit: 20, channel: 0, coinsPerProgram: 7 },
  C3: { unit: 20, channel: 2, coinsPerProgram: 4 },
};

export const CARDS = {
  alice: { uid: '04A2B9C1D25E80', accountId: 'acct-alice' },
  bob: { uid: '04B7C2D3E4F501', accountId: 'acct-bob' },
  mallory: { uid: '04DEADBEEF0001', accountId: 'acct-mallory' },
  stranger: { uid: '04FFFFFFFF0009', accountId: '' },
} as const;

export interface TestRoom {
  room: SimRoom;
  port: number;
  close(): Promise<void>;
}

export async function startRoom(o: { timeScale?: number; units?: SimUnitConfig[]; logger?: Logger; commandResultDelayMs?: number } = {}): Promise<TestRoom> {
  const room = new SimRoom({
    units: o.units ?? UNITS,
    timeScale: o.timeScale ?? 1,
    replyDelayMs: 2,
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.commandResultDelayMs !== undefined ? { commandResultDelayMs: o.commandResultDelayMs } : {}),
  });
  const { port } = await room.listenTcp({ host: '127.0.0.1', port: 0, framing: 'rtu' });
  room.start();
  return { room, port, close: () => room.close() };
}

export interface ConfigOptions {
  port: number;
  dbPath: string;
  qrPublicKey?: string;
  roomId?: string;
  pollIntervalMs?: number;
  replyTimeoutMs?: number;
  faultRefund?: { mode?: 'full' | 'prorated'; withinShare?: number; minRefundCents?: number };
}

/** The demo's pricing over the test room's machines; risk limits opened wide unless a test narrows them. */
export function testConfig(o: ConfigOptions): GatewayConfigInput {
  const demo = demoGatewayConfig({ tcpPort: o.port, dbPath: o.dbPath, qrPublicKey: o.qrPublicKey ?? qrKey().publicKeyB64 });
  return {
    room: { id: o.roomId ?? ROOM_ID },
    database: { path: o.dbPath },
    // Tests run side by side: the status page takes any free port.
    web: { port: 0 },
    buses: [
      {
        id: 'bus1',
        transport: { type: 'tcp', host: '127.0.0.1', port: o.port, framing: 'rtu' },
        pollIntervalMs: o.pollIntervalMs ?? 100,
        replyTimeoutMs: o.replyTimeoutMs ?? 100,
        units: [
          { unit: 1, profile: 'lw485', machineId: 'W1', kind: 'washer' },
          { unit: 2, profile: 'lw485', machineId: 'W2', kind: 'washer' },
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
    readers: [],
    pricing: {
      ...demo.pricing,
      base: demo.pricing.base.map((r) => (r.machineIds ? { ...r, machineIds: r.machineIds.map((m) => (m === 'C2' ? 'C1' : m === 'C4' ? 'C3' : m)) } : r)),
    },
    risk: { velocity: { maxVends: 1_000_000 }, offline: { cardCapCents: 100_000_000, roomCapCents: 1_000_000_000 } },
    ...(o.faultRefund ? { faultRefund: o.faultRefund } : {}),
    qrTokens: o.qrPublicKey ? { keys: [{ publicKey: o.qrPublicKey, issuer: 'laundry-cloud' }] } : { keys: [] },
    log: { level: 'info' },
  };
}

export function tempDir(prefix = 'engine-'): { dir: string; file(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, file: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function testLogger(): Logger {
  return process.env.ENGINE_TEST_LOG ? createLogger({ level: process.env.ENGINE_TEST_LOG, destination: 2 }) : silentLogger();
}

export async function startDaemon(cfg: GatewayConfigInput, logger: Logger = testLogger(), deps: Omit<DaemonDeps, 'logger' | 'clock'> = {}): Promise<Daemon> {
  const d = new Daemon(gatewayConfigSchema.parse(cfg), { logger, clock: systemClock, ...deps });
  await d.start();
  return d;
}

/** Cards for alice (2000 ¢), bob (300 ¢) and mallory (blocked); stranger has no card. Idempotent per file. */
export function seedCards(ledger: Ledger, balances: { alice?: number; bob?: number } = {}): void {
  if (ledger.cardListVersion() >= 1) return;
  ledger.applyCardList({
    kind: 'full',
    version: 1,
    cards: [
      { uid: CARDS.alice.uid, accountId: CARDS.alice.accountId, status: 'active' },
      { uid: CARDS.bob.uid, accountId: CARDS.bob.accountId, status: 'active' },
      { uid: CARDS.mallory.uid, accountId: CARDS.mallory.accountId, status: 'blocked' },
    ],
  });
  ledger.applyTopUp({ cloudId: 'seed-alice', accountId: CARDS.alice.accountId, amountCents: balances.alice ?? 2000, accountVersion: 1 });
  ledger.applyTopUp({ cloudId: 'seed-bob', accountId: CARDS.bob.accountId, amountCents: balances.bob ?? 300, accountVersion: 1 });
  ledger.applyTopUp({ cloudId: 'seed-mallory', accountId: CARDS.mallory.accountId, amountCents: 5000, accountVersion: 1 });
}

export async function waitFor(cond: () => boolean, what: string, deadlineMs = slow(15_000)): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until the poller shows the machine in one of these statuses. */
export function waitStatus(d: Daemon, machineId: string, statuses: readonly string[], deadlineMs = slow(15_000)): Promise<void> {
  return waitFor(() => statuses.includes(d.machines.state(machineId)?.status ?? 'none'), `${machineId} to be ${statuses.join('/')} (is ${d.machines.state(machineId)?.status ?? 'unknown'})`, deadlineMs);
}

export interface QrKey extends Ed25519KeyPair {
  publicKeyB64: string;
}

export function qrKey(): QrKey {
  const k = generateKeyPair();
  return { ...k, publicKeyB64: Buffer.from(k.publicKey).toString('base64url') };
}

export function mintFor(key: QrKey, o: { roomId?: string; machineId: string; amountCents: number; program?: number; accountId?: string }): string {
  const now = Math.floor(Date.now() / 1000);
  return mintToken(
    {
      iss: 'laundry-cloud',
      aud: o.roomId ?? ROOM_ID,
      iat: now - 5,
      exp: now + 600,
      cti: new Uint8Array(randomBytes(12)),
      amt: o.amountCents,
      m: o.machineId,
      ...(o.program !== undefined ? { p: o.program } : {}),
      ...(o.accountId !== undefined ? { acct: o.accountId } : {}),
    },
    key.privateKey,
  );
}

/** Audit records of one vend, by kind, from the ledger's own reader. */
export function auditKinds(ledger: Ledger, vendId: string): string[] {
  const out: string[] = [];
  for (let from = 1; ; ) {
    const batch = ledger.readAudit(from, 500);
    if (batch.length === 0) break;
    for (const r of batch) if (r.vendId === vendId) out.push(r.kind);
    from = (batch[batch.length - 1]?.seq ?? from) + 1;
  }
  return out;
}

/** Every outbox record type currently queued, with its payload. */
export function outboxRecords(ledger: Ledger): { type: string; payload: Record<string, unknown> }[] {
  const b = ledger.outbox.nextBatch({ maxCount: 100_000, maxBytes: 100_000_000 });
  return b.records.map((r) => ({ type: r.type, payload: r.payload as Record<string, unknown> }));
}

/**
 * The room's customers between vends: start credited machines, empty finished ones (door open
 * and shut: DONE -> IDLE), press Start on coin machines that have their coins. Every `everyMs`,
 * over `machines` (default: this harness's room); `willAct` says whether a customer acts at a
 * machine this turn (default: always; the seams torture lets credited machines wait, so the
 * app's start, pause and cancel meet them).
 */
export function startAttendant(room: SimRoom, everyMs = 20, machines: Iterable<{ unit: number; channel?: number }> = Object.values(MACHINES), willAct: () => boolean = () => true): () => void {
  const c = room.control;
  const quiet = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof SimActionError)) throw e;
    }
  };
  const timer = setInterval(() => {
    for (const m of machines) {
      if (m.channel !== undefined) {
        if (c.rio8(m.unit).channels[m.channel]?.machine?.ready === true && willAct()) quiet(() => c.pressStart(m.unit, m.channel));
        continue;
      }
      const s = c.lw485(m.unit);
      if (s.stateName === 'CREDITED' && s.doorClosed && willAct()) quiet(() => c.pressStart(m.unit));
      else if (s.stateName === 'DONE' && willAct()) {
        quiet(() => c.setDoor(m.unit, true));
        quiet(() => c.setDoor(m.unit, false));
      }
    }
  }, everyMs);
  return () => clearInterval(timer);
}
