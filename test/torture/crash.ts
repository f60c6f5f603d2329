// Torture: the gateway killed with SIGKILL `kills` times at random moments while everything
// happens at once: card vends at five machines (three LW-485, two coin machines on a RIO-8),
// refunds (not-executed credits the restart settles, machines refusing, fault refunds of cycles
// the attendant breaks), downlinks from a cloud over a real Mosquitto (top-ups, card lists,
// signed room configs) and the uplink draining batches to the reference consumer. A fifth of
// the kills land during start-up (discovery, the start-up reconcile, the first connect).
//
// The room is simulated HERE, in the parent, so the machines keep their state through the
// gateway's crash; the gateway (crash-child.ts, a whole Daemon) is the process that dies. The
// checks are in lib-checks.ts; in short: integrity_check after every kill; after every restart
// the self-check, the audit chain, no vend unfinished, each LW-485's executed credits and each
// coin machine's pulses equal to the captures; at the end every outbox record in the consumer
// exactly once and in order, every top-up applied once, balances exact.
import { fileURLToPath } from 'node:url';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openLedger } from '../../storage/index.js';
import { loadOrCreateRoomSecret } from '../../gateway/core/room-secret.js';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';
import { SimActionError, type SimRoom } from '../../simulator/index.js';
import { prepareGatewayChild } from '../engine/child.js';
import { CARDS, MACHINES, ROOM_ID, seedCards, startAttendant, startRoom, tempDir } from '../engine/harness.js';
import { numParam, type TortureModule, type TortureOptions, type TortureResult } from './types.js';
import { LedgerChecker, type MachineCounts } from './lib-checks.js';
import { CloudDriver, startCloud } from './lib-cloud.js';
import { spawnGateway, tallyOutcomes, untilCaptured, type GatewayChild } from './lib-gateway.js';
import { slow } from '../helpers/slowdown.js';
import { delay, seededRandom, withDeadline } from './lib-room.js';
import { childNotes, finishAndCheck, tearDown } from './lib-finish.js';

const CHILD_SOURCE = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
// Stretched under emulation (test/helpers/slowdown.ts): a child through qemu takes seconds to start.
const READY_DEADLINE_MS = slow(30_000);
const SEED_BALANCES = { alice: 10_000_000, bob: 3000 };

export const LW_UNITS = Object.entries(MACHINES).filter(([, m]) => m.channel === undefined);
export const COIN_CHANNELS = Object.entries(MACHINES).filter(([, m]) => m.channel !== undefined);
export const COINS_PER_PROGRAM = new Map(COIN_CHANNELS.map(([id, m]) => [id, m.coinsPerProgram ?? 0]));

/** The seed top-ups seedCards applies, as the delivery check must count them. */
export const SEED_TOP_UPS = [
  { cloudId: 'seed-alice', accountId: CARDS.alice.accountId, amountCents: SEED_BALANCES.alice, accountVersion: 1 },
  { cloudId: 'seed-bob', accountId: CARDS.bob.accountId, amountCents: SEED_BALANCES.bob, accountVersion: 1 },
  { cloudId: 'seed-mallory', accountId: CARDS.mallory.accountId, amountCents: 5000, accountVersion: 1 },
];

export function seedLedger(dbPath: string, secretPath: string): void {
  const l = openLedger({ path: dbPath, roomSecret: loadOrCreateRoomSecret(secretPath), gatewayId: ROOM_ID, bootId: 'seed', clock: systemClock, logger: silentLogger() });
  seedCards(l, SEED_BALANCES);
  l.close();
}

/** The in-process room's counts: LW-485 cycles and credit, RIO-8 pulses (wrap-aware, with the train still running). */
function roomCounts(room: SimRoom, base: MachineCounts | null): MachineCounts {
  const c = room.control;
  const lw = new Map<string, { cycles: number; credited: boolean }>();
  for (const [id, m] of LW_UNITS) {
    const s = c.lw485(m.unit);
    lw.set(id, { cycles: s.cycleCounter, credited: s.stateName === 'CREDITED' || (s.stateName === 'FAULT' && s.faultFrom === 'credited') });
  }
  const coins = new Map<string, number>();
  const rio = c.rio8(20);
  for (const [id, m] of COIN_CHANNELS) {
    const ch = rio.channels[m.channel ?? -1];
    const counter = ch?.pulseCounter ?? 0;
    const b = base?.coins.get(id) ?? counter;
    coins.set(id, b + ((counter - b) & 0xffff) + (ch?.pulsesPending ?? 0));
  }
  return { lw, coins };
}

/**
 * The RIO-8's shortest pulse timing (20 ms on, 20 ms off; the module's default is 60/60): a
 * 7-coin train takes 280 ms, so trains end within a child's life more often and the start-up
 * reconcile waits less for one the kill left running. The gateway reads the timing itself.
 */
export function fastPulses(room: SimRoom): void {
  for (const address of [32, 33]) room.handleRequest(20, { fc: 6, address, value: 20 });
}

/** Breaks a running LW-485 cycle now and then (a fault refund follows) and fixes the condition later. */
export function startFaultInjector(room: SimRoom, random: () => number, everyMs = 100): { stop(): void; injected(): number } {
  const c = room.control;
  let injected = 0;
  const timer = setInterval(() => {
    for (const [, m] of LW_UNITS) {
      try {
        const s = c.lw485(m.unit);
        if (s.stateName === 'RUNNING' && random() < 0.25) {
          c.injectFault(m.unit, 6);
          injected++;
        } else if (s.stateName === 'FAULT' && s.faultConditionActive && random() < 0.3) {
          c.resolveFaultCondition(m.unit);
        }
      } catch (e) {
        if (!(e instanceof SimActionError)) throw e;
      }
    }
  }, everyMs);
  return { stop: () => clearInterval(timer), injected: () => injected };
}

async function run(opts: TortureOptions): Promise<TortureResult> {
  const started = Date.now();
  const kills = numParam(opts, 'kills', 1000, 40);
  const killMaxMs = numParam(opts, 'killMaxMs', 500, 500);
  const startupShare = numParam(opts, 'startupShare', 0.2, 0.2);
  // The quick run's 40 kills land within 500 ms of the vend starting; on a loaded machine a vend
  // takes longer than that, so without this every one would be killed before its capture and the
  // capture path after a restart would go untested. A share of the lives first sees one capture.
  const captureFirstShare = numParam(opts, 'captureFirstShare', 0, 0.25);
  const random = seededRandom(opts.seed);
  mkdirSync(ARTIFACTS, { recursive: true });
  const tmp = tempDir('torture-crash-');
  const dbPath = tmp.file('ledger.db');
  const child = prepareGatewayChild(CHILD_SOURCE);
  const sim = await startRoom({ timeScale: 20_000 });
  fastPulses(sim.room);
  const stopAttendant = startAttendant(sim.room);
  const faults = startFaultInjector(sim.room, random);
  seedLedger(dbPath, tmp.file('room-secret'));
  const cloud = await startCloud(tmp.file('cloud.db'));
  const driver = new CloudDriver(cloud, random, `s${opts.seed}`);
  const checker = new LedgerChecker(dbPath, ROOM_ID, COINS_PER_PROGRAM);
  checker.base = roomCounts(sim.room, null);
  const counts = (): MachineCounts => roomCounts(sim.room, checker.base);
  const violations: string[] = [];
  const outcomes = new Map<string, number>();
  let startupKills = 0;
  let lateSettles = 0;
  let seq = 0;
  const ms = { ready: 0, readyN: 0, checks: 0, checksN: 0 };
  const timed = <T>(key: 'ready' | 'checks', t0: number, value: T): T => {
    ms[key] += Date.now() - t0;
    ms[`${key}N`]++;
    return value;
  };
  const spawnNext = (): GatewayChild => spawnGateway(child, { dbPath, seed: ++seq + opts.seed, mqttUrl: cloud.broker.url, configPublicKey: cloud.configPublicKey });
  const keepLog = (name: string, c: GatewayChild): void => writeFileSync(join(ARTIFACTS, `torture-crash-${name}.log`), c.stderr());
  let next = spawnNext();
  driver.start(150);
  opts.log(`crash: ${kills} kills, seed ${opts.seed}, child ${child.compiled ? 'compiled' : 'tsx'}`);
  // The child under test: killed by the tear-down too when a step throws with it running (left
  // alive it kept writing into the scratch folder, whose removal then failed and masked the
  // first error, and it held the test file open until the runner's limit).
  let cur: GatewayChild | null = null;
  try {
    for (let i = 0; i < kills && violations.length < 20; i++) {
      cur = next;
      next = spawnNext();
      cur.go(sim.port);
      if (random() < startupShare) {
        // Killed while starting: before the ledger opened, during discovery, the reconcile or the first connect.
        await delay(Math.floor(random() * 600));
        cur.kill();
        await cur.exited;
        startupKills++;
        checker.afterKill(`kill ${i} (start-up)`, violations);
        continue;
      }
      const t0 = Date.now();
      const blocked = timed('ready', t0, await withDeadline(cur.ready, READY_DEADLINE_MS, `child ${i} ready`));
      if (blocked !== '') {
        // A read that timed out on this loaded machine leaves a vend to the periodic reconcile
        // (every 5 s); it must settle then. Still unsettled after that is a violation.
        lateSettles++;
        const until = Date.now() + slow(20_000);
        while (checker.unfinished() > 0 && Date.now() < until) await delay(100);
      }
      const seen = violations.length;
      const t1 = Date.now();
      timed('checks', t1, checker.afterStart(`start ${i}`, violations, counts()));
      if (violations.length > seen || blocked !== '') keepLog(`start-${i}`, cur);
      cur.vend();
      if (random() < captureFirstShare) await untilCaptured(cur, slow(15_000));
      await delay(Math.floor(random() * killMaxMs));
      cur.kill();
      await cur.exited;
      tallyOutcomes(cur, outcomes);
      const t2 = Date.now();
      timed('checks', t2, checker.afterKill(`kill ${i}`, violations));
      if ((i + 1) % 100 === 0) opts.log(`crash: ${i + 1} kills, ${Math.round((Date.now() - started) / 1000)} s, ${violations.length} violations`);
    }
    await driver.stop();
    const fin = await finishAndCheck({
      next, simPort: sim.port, checker, dbPath, driver, seedTopUps: SEED_TOP_UPS.length, counts: () => Promise.resolve(counts()), violations, log: opts.log,
      logName: 'torture-crash-final.log', consumerDb: cloud.consumerDb, gatewayId: ROOM_ID, topUps: [...SEED_TOP_UPS, ...driver.topUps], outOfOrder: cloud.arrivals.outOfOrder,
    });
    next = fin.child;
    return {
      name: 'crash',
      violations,
      figures: {
        kills,
        startupKills,
        lateSettles,
        ...fin.figures,
        faultsInjected: faults.injected(),
        batchesReceived: cloud.arrivals.batches,
        childOutcomes: JSON.stringify(Object.fromEntries(outcomes)),
        readyMsAvg: Math.round(ms.ready / Math.max(1, ms.readyN)),
        checkMsAvg: Math.round(ms.checks / Math.max(1, ms.checksN)),
        seconds: Math.round((Date.now() - started) / 1000),
      },
      notes: childNotes(opts.seed, child.compiled, driver),
    };
  } finally {
    if (cur !== null && cur !== next) {
      cur.kill();
      await cur.exited;
    }
    await tearDown({ next, driver, stops: [faults.stop, stopAttendant], cloud, sim, child, tmp });
  }
}

const crash: TortureModule = { name: 'crash', title: 'gateway killed with SIGKILL mid-vend, mid-refund, mid-downlink and mid-batch', run };
export default crash;
