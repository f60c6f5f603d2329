// The vend rig the swipe and offline benchmarks share: a simulated room of N LW-485 machines
// (RTU over loopback TCP), the real Daemon with its ledger on a file of the repository's disk
// (WAL, synchronous=FULL, as storage/db.ts sets on every open), and one type L card reader per
// machine on its own socat pty. A swipe is the reader's line written on the pty's far end; its
// latency ends where the simulator receives the CREDIT command frame (fc16 at 256, command 1).
// Everything runs in this one process, so both stamps are on the same clock.
//
// A machine is swiped again only when it is idle and at least `gapMs` after its last vend.
// In a room a machine runs for half an hour between customers; within 5 s of its last vend the
// engine re-reads the machine before admitting (freshReadAfterVendMs), a path a real room does
// not take on a normal swipe, so the default gap stays above that window.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Daemon } from '../../gateway/daemon.js';
import type { Logger } from '../../gateway/core/log.js';
import type { GatewayConfigInput } from '../../gateway/config/schema.js';
import { ReaderEmulator } from '../../gateway/readers/reader-emulator.js';
import { SimRoom, SimSecureCard, type ReplyPlan, type SimUnitConfig } from '../../simulator/index.js';
import { META_KEY_HEX, MASTER_KEY_HEX, SPEC_KEYS, SYSTEM_ID } from '../secure-card/vectors.js';
import { CARDS, seedCards, startAttendant, startDaemon, testConfig, waitStatus } from '../engine/harness.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';

const CREDIT_CODE = 1;
const COMMAND_BLOCK = 256;

/** The repository's disk, not a tmpfs: fsync must cost what it costs. */
export function artifactsDir(prefix: string): { dir: string; cleanup(): void } {
  const base = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface SwipeRun {
  /** ms from the card line written to the CREDIT frame received, one per captured vend. */
  samples: number[];
  /** When each of samples started (performance.now()), in the same order. */
  starts?: number[];
  /** The same for secure taps (the machines with a type S reader, with `secure`); empty otherwise. */
  secureSamples: number[];
  /** Swipes that did not end captured, by outcome (e.g. "declined:machine_busy"); retried. */
  other: Map<string, number>;
  seconds: number;
}

export interface VendRig {
  daemon: Daemon;
  room: SimRoom;
  machines: number;
  dbPath: string;
  /**
   * Runs `vends` captured swipes over the machines, at most `concurrency` in flight: 1 is one
   * customer after another (a real room: vends minutes apart never overlap), more is a rush.
   */
  swipes(vends: number, maxSeconds: number, concurrency: number, opts?: SwipeOptions): Promise<SwipeRun>;
  close(): Promise<void>;
}

export interface SwipeOptions {
  /**
   * A swipe is a sample only if this holds when it starts and when its outcome is known (e.g.
   * "a backlog is draining"); one outside counts as done, under "outside the window", and is
   * not retried.
   */
  during?: () => boolean;
}

export interface VendRigOptions {
  dbPath: string;
  machines: number;
  gapMs: number;
  /** Runs on the ledger file before the daemon opens it (e.g. to fill a backlog). */
  beforeStart?: (dbPath: string) => void | Promise<void>;
  /** The daemon's logger (default: silent unless ENGINE_TEST_LOG). */
  logger?: Logger;
  /** Poll interval of the bus (default 100 ms). */
  pollIntervalMs?: number;
  /** Simulated seconds per real second (default 20 000: a cycle lasts ~0.1 s). */
  timeScale?: number;
  /**
   * Every second machine gets a type S reader instead (alice's secure card taps there, a fresh
   * SUN message each time, through the secure-card gate); the key file is written here.
   */
  secure?: { keyFile: string };
  /**
   * How often the simulated customers look at every machine to press start or empty it (default
   * 10 ms). Each look snapshots all the units on the daemon's own event loop: 2 400 snapshots a
   * second for 24 machines at 10 ms, the bench's CPU and garbage, not the daemon's.
   */
  attendantMs?: number;
  /** Adds to the daemon's config (e.g. an mqtt block) before it starts. */
  configure?: (c: GatewayConfigInput) => GatewayConfigInput;
}

/** Alice's secure card in the secure rig (the card list marks it secure, on her account). */
export const SECURE_UID = '04C0FFEE5EC0DE';


interface RigMachine {
  unit: number;
  machineId: string;
  kind: 'washer' | 'dryer';
  sun: boolean;
}

export async function startVendRig(o: VendRigOptions): Promise<VendRig> {
  const list: RigMachine[] = Array.from({ length: o.machines }, (_, i) => ({ unit: i + 1, machineId: `M${i + 1}`, kind: i % 3 === 2 ? ('dryer' as const) : ('washer' as const), sun: o.secure !== undefined && i % 2 === 1 }));
  if (o.secure) {
    writeFileSync(o.secure.keyFile, JSON.stringify({ keys: [{ version: 1, metaKey: META_KEY_HEX, masterKey: MASTER_KEY_HEX, systemId: SYSTEM_ID }] }));
    chmodSync(o.secure.keyFile, 0o600);
  }
  const secureCard = new SimSecureCard({ uid: SECURE_UID, keys: SPEC_KEYS, counter: 1 });
  const simUnits: SimUnitConfig[] = list.map((m) => ({ unit: m.unit, model: m.kind === 'dryer' ? 'lw485-dryer' : 'lw485-washer' }));
  const room = new SimRoom({ units: simUnits, timeScale: o.timeScale ?? 20_000, replyDelayMs: 2 });
  const { port } = await room.listenTcp({ host: '127.0.0.1', port: 0, framing: 'rtu' });
  room.start();
  const arrived = new Map<number, (t: number) => void>();
  const serve = room.serve.bind(room);
  room.serve = (unit: number, pdu: Buffer): ReplyPlan | null => {
    if (pdu.length >= 10 && pdu[0] === 16 && pdu.readUInt16BE(1) === COMMAND_BLOCK && pdu.readUInt16BE(8) === CREDIT_CODE) {
      const t = performance.now();
      arrived.get(unit)?.(t);
      arrived.delete(unit);
    }
    return serve(unit, pdu);
  };
  const ptys: PtyPair[] = [];
  const emulators: ReaderEmulator[] = [];
  let daemon: Daemon | null = null;
  let stopAttendant = (): void => undefined;
  try {
    for (let i = 0; i < list.length; i++) ptys.push(await openPtyPair());
    await o.beforeStart?.(o.dbPath);
    const base = testConfig({ port, dbPath: o.dbPath, pollIntervalMs: o.pollIntervalMs ?? 100 });
    const bus = base.buses?.[0];
    if (bus === undefined) throw new Error('test config has no bus');
    const cfg: GatewayConfigInput = {
      ...base,
      buses: [{ ...bus, units: list.map((m) => ({ unit: m.unit, profile: 'lw485' as const, machineId: m.machineId, kind: m.kind })) }],
      readers: list.map((m, i) =>
        m.sun
          ? { id: `s-${m.machineId}`, type: 'sun' as const, path: ptys[i]?.a ?? '', attachedTo: { machineId: m.machineId } }
          : {
              id: `r-${m.machineId}`,
              type: 'line' as const,
              path: ptys[i]?.a ?? '',
              attachedTo: { machineId: m.machineId },
              // One card swiped again and again: every line is a new presentation here.
              debounceMs: 0,
            },
      ),
      ...(o.secure ? { secureCards: { keyFile: o.secure.keyFile } } : {}),
    };
    daemon = await startDaemon(o.configure ? o.configure(cfg) : cfg, o.logger);
    seedCards(daemon.ledger, { alice: 1_000_000_000 });
    if (o.secure) daemon.ledger.applyCardList({ kind: 'diff', baseVersion: 1, version: 2, cards: [{ uid: SECURE_UID, accountId: CARDS.alice.accountId, status: 'active', secure: true }] });
    for (const [i, pty] of ptys.entries()) {
      const e = new ReaderEmulator({ path: pty.b, type: list[i]?.sun === true ? 'sun' : 'line' });
      await e.open();
      emulators.push(e);
    }
    stopAttendant = startAttendant(room, o.attendantMs ?? 10, list.map((m) => ({ unit: m.unit })));
    for (const m of list) await waitStatus(daemon, m.machineId, ['idle']);
  } catch (e) {
    stopAttendant();
    await daemon?.stop();
    for (const e2 of emulators) await e2.close();
    for (const p of ptys) await p.close();
    await room.close();
    throw e;
  }
  const d = daemon;

  // The daemon calls engine.cardSwipe for each line the reader frames: wrap it to learn each
  // swipe's outcome at once.
  const outcomes = new Map<string, (result: string) => void>();
  const cardSwipe = d.engine.cardSwipe.bind(d.engine);
  d.engine.cardSwipe = async (req) => {
    const out = await cardSwipe(req);
    if (req.machineId !== null) {
      outcomes.get(req.machineId)?.(out.result === 'declined' ? `declined:${out.reason}` : out.result);
      outcomes.delete(req.machineId);
    }
    return out;
  };
  const lastVend = new Map<string, number>();

  const swipes = async (vends: number, maxSeconds: number, concurrency: number, so: SwipeOptions = {}): Promise<SwipeRun> => {
    const during = so.during ?? ((): boolean => true);
    const samples: number[] = [];
    const starts: number[] = [];
    const secureSamples: number[] = [];
    const other = new Map<string, number>();
    const claimed = new Set<number>();
    let started = 0;
    let next = 0;
    const t0run = performance.now();
    const until = Date.now() + maxSeconds * 1000;
    // The simulator's state is the truth; the poller's may be a cycle old either way.
    const ready = (m: RigMachine): boolean =>
      !claimed.has(m.unit) &&
      performance.now() >= (lastVend.get(m.machineId) ?? -Infinity) + o.gapMs &&
      d.machines.state(m.machineId)?.status === 'idle' &&
      room.control.lw485(m.unit).stateName === 'IDLE';
    const pick = (): RigMachine | undefined => {
      for (let k = 0; k < list.length; k++) {
        const m = list[(next + k) % list.length];
        if (m !== undefined && ready(m)) {
          next = (next + k + 1) % list.length;
          return m;
        }
      }
      return undefined;
    };
    const worker = async (): Promise<void> => {
      while (started < vends && Date.now() < until) {
        const m = pick();
        const reader = m === undefined ? undefined : emulators[m.unit - 1];
        if (m === undefined || reader === undefined) {
          await sleep(5);
          continue;
        }
        claimed.add(m.unit);
        started++;
        let frameAt: number | null = null;
        arrived.set(m.unit, (t) => (frameAt = t));
        const outcome = new Promise<string>((resolve) => {
          outcomes.set(m.machineId, resolve);
          setTimeout(() => resolve('no outcome in 10 s'), 10_000).unref();
        });
        const inside = during();
        const t0 = performance.now();
        await reader.present(m.sun ? secureCard.tap() : CARDS.alice.uid);
        const result = await outcome;
        const stillInside = during();
        arrived.delete(m.unit);
        outcomes.delete(m.machineId);
        lastVend.set(m.machineId, performance.now());
        claimed.delete(m.unit);
        if (result === 'captured' && frameAt !== null && !(inside && stillInside)) other.set('outside the window', (other.get('outside the window') ?? 0) + 1);
        else if (result === 'captured' && frameAt !== null && m.sun) secureSamples.push(frameAt - t0);
        else if (result === 'captured' && frameAt !== null) {
          samples.push(frameAt - t0);
          starts.push(t0);
        }
        else {
          other.set(result, (other.get(result) ?? 0) + 1);
          started--;
        }
        // Customers do not arrive in lockstep.
        await sleep(Math.floor(Math.random() * 20));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, () => worker()));
    return { samples, starts, secureSamples, other, seconds: (performance.now() - t0run) / 1000 };
  };

  return {
    daemon: d,
    room,
    machines: list.length,
    dbPath: o.dbPath,
    swipes,
    close: async () => {
      stopAttendant();
      for (const e of emulators) await e.close();
      await d.stop();
      for (const p of ptys) await p.close();
      await room.close();
    },
  };
}
