// Bus faults: the RS-485 line misbehaving while the room vends. The simulated room sits on the
// far end of a socat pty at 19200 8E1; the gateway (a whole Daemon with a real ledger file) polls
// and credits through a by-id style symlink. In turn:
//   1. wire faults at random units: replies with a bad CRC, noise bytes before a reply, replies
//      lost (the command was executed), replies after the timeout;
//   2. a unit pulled off the bus at a random moment of a poll cycle and put back, several times:
//      the cycles until the gateway shows it offline are counted, and once (an LW-485 nobody pays
//      at meanwhile) the live units' cycle time is measured with the unit alive and with it dead;
//   3. the USB adapter removed (the symlink the gateway opens is deleted) and put back.
// Checked once the bus is whole again and every vend has settled: no vend captured without the
// machine having executed the credit (its own counters = the ledger's captures, per machine),
// every failed credit refunded (no vend left open, accounts = top-ups - captures), the ledger
// whole; a dead unit marked offline within 3 poll cycles; and (full run only: a timing, not for
// npm test) the live units' cycle no more than 10 % slower while one unit is dead.
//   --set bus-faults.faultSec=120 .pulls=6 .deadSec=30 .unplugs=3 .pollIntervalMs=50 .replyTimeoutMs=150
import { setTimeout as sleep } from 'node:timers/promises';
import { planPoll } from '../../gateway/bus/poll-plan.js';
import type { CycleEvent } from '../../gateway/machines/poller.js';
import { numParam, type TortureModule, type TortureOptions, type TortureResult } from './types.js';
import { seededRandom } from './lib-rng.js';
import { BUS_MACHINES, LINE, startBusAttendant, startBusCustomers, startBusRoom, type BusRoom } from './lib-bus-room.js';
import { WIRE_FAULTS, injectWireFault, type WireFault } from './lib-bus-faults.js';
import { checkBalances, checkMoney, machineCounters } from './lib-bus-checks.js';

interface Cycle extends CycleEvent {
  at: number;
}

const mean = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const r2 = (x: number): number => Math.round(x * 100) / 100;

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}

function machinesOfUnit(unit: number): string[] {
  return Object.entries(BUS_MACHINES)
    .filter(([, m]) => m.unit === unit)
    .map(([id]) => id);
}

async function run(opts: TortureOptions): Promise<TortureResult> {
  const faultSec = numParam(opts, 'faultSec', 120, 10);
  const pulls = numParam(opts, 'pulls', 6, 2);
  const deadSec = numParam(opts, 'deadSec', 30, 6);
  const baselineSec = numParam(opts, 'baselineSec', 15, 4);
  const unplugs = numParam(opts, 'unplugs', 3, 1);
  const pollIntervalMs = numParam(opts, 'pollIntervalMs', 50, 50);
  const replyTimeoutMs = numParam(opts, 'replyTimeoutMs', 150, 150);
  const rnd = seededRandom(opts.seed);
  const violations: string[] = [];
  const notes: string[] = [];
  const started = Date.now();
  const room: BusRoom = await startBusRoom({ replyTimeoutMs, pollIntervalMs, timeScale: 2000 });
  const poller = room.daemon.buses[0]?.poller;
  const master = room.daemon.buses[0]?.master;
  if (poller === undefined || master === undefined) throw new Error('no bus');
  const cycles: Cycle[] = [];
  poller.on('cycle', (e) => cycles.push({ ...e, at: Date.now() }));
  const base = machineCounters(room.sim);
  const stopAttendant = startBusAttendant(room.sim);
  const customers = startBusCustomers(room.daemon, seededRandom(opts.seed ^ 0x5bd1e995));
  const faults = new Map<string, number>();
  const count = (k: string): void => void faults.set(k, (faults.get(k) ?? 0) + 1);
  const offlineAt = new Map<number, number>();
  poller.on('state', (e) => {
    if (e.state.status === 'offline' && e.changed.includes('status')) {
      for (const [id, m] of Object.entries(BUS_MACHINES)) if (id === e.state.machineId && !offlineAt.has(m.unit)) offlineAt.set(m.unit, Date.now());
    }
  });
  const allOnline = (): boolean => Object.keys(BUS_MACHINES).every((id) => room.daemon.machines.state(id)?.status !== 'offline' && room.daemon.machines.state(id) !== null);
  const figures: TortureResult['figures'] = {};
  try {
    await until(allOnline, 10_000);
    opts.log(`bus-faults: room up after ${Date.now() - started} ms; ${faultSec} s of wire faults`);

    // 1. Wire faults at random units while everybody vends. Now and then the unit a card was
    // just presented at goes deaf for a moment (a brown-out, a loose connector): the credit that
    // follows is lost before the machine hears it, and must end refunded, never captured.
    const units = [...new Set(Object.values(BUS_MACHINES).map((m) => m.unit))];
    const deafTimers = new Set<NodeJS.Timeout>();
    customers.onSwipe = (machineId) => {
      const unit = BUS_MACHINES[machineId]?.unit;
      if (unit === undefined || rnd() >= 0.15) return;
      count('credit-brownout');
      const on = setTimeout(() => {
        deafTimers.delete(on);
        room.sim.control.setOffline(unit, true);
        const off = setTimeout(() => {
          deafTimers.delete(off);
          room.sim.control.setOffline(unit, false);
        }, 150 + Math.floor(rnd() * 450));
        deafTimers.add(off);
      }, Math.floor(rnd() * 60));
      deafTimers.add(on);
    };
    const faultsUntil = Date.now() + faultSec * 1000;
    while (Date.now() < faultsUntil) {
      const unit = units[Math.floor(rnd() * units.length)] ?? 1;
      const f: WireFault = WIRE_FAULTS[Math.floor(rnd() * WIRE_FAULTS.length)] ?? 'dropped';
      injectWireFault(room.sim, unit, f, rnd, replyTimeoutMs);
      count(f);
      await sleep(100 + Math.floor(rnd() * 300));
    }
    customers.onSwipe = null;
    await sleep(1000);
    for (const t of deafTimers) clearTimeout(t);
    for (const u of units) room.sim.control.clearWireFaults(u);
    // Units that the faults knocked offline come back before the next measurement.
    if (!(await until(allOnline, 30_000))) violations.push('a unit stayed offline 30 s after the wire faults stopped');

    // 2. Units pulled off the bus mid-cycle and put back.
    const cyclesToOffline: number[] = [];
    const backOnlineMs: number[] = [];
    const lwUnits = units.filter((u) => u !== 20);
    for (let p = 0; p < pulls; p++) {
      // The first pull is the timed one: an LW-485; the others any unit, the RIO-8 included.
      const unit = p === 0 ? (lwUnits[Math.floor(rnd() * lwUnits.length)] ?? 2) : (units[Math.floor(rnd() * units.length)] ?? 2);
      const timed = p === 0;
      const ids = machinesOfUnit(unit);
      let baseline: number[] = [];
      let dead: number[] = [];
      let probes = 0;
      if (timed) {
        // Nobody pays anywhere while the cycle is timed: vend commands go before polls and would
        // swamp the comparison. The dead unit's machines stay unpaid until it is back.
        for (const id of Object.keys(BUS_MACHINES)) customers.paused.add(id);
        await sleep(1000);
        const from = Date.now();
        await sleep(baselineSec * 1000);
        baseline = cycles.filter((c) => c.at > from && c.failedUnits.length === 0).map((c) => c.durationMs);
      }
      // Mid-cycle: a random moment after a cycle began.
      const n0 = cycles.length;
      await until(() => cycles.length > n0, 5000);
      const last = cycles[cycles.length - 1]?.durationMs ?? 50;
      await sleep(Math.floor(rnd() * Math.max(1, last)));
      offlineAt.delete(unit);
      const pulledAt = Date.now();
      room.sim.control.setOffline(unit, true);
      count('unit-pulled');
      if (!(await until(() => offlineAt.has(unit), 30_000))) {
        violations.push(`pull ${p}: unit ${unit} was never marked offline`);
      } else {
        const marked = offlineAt.get(unit) ?? 0;
        // Cycles in which the unit failed before it was marked, plus the one that marked it.
        const failedBefore = cycles.filter((c) => c.at >= pulledAt && c.at < marked && c.failedUnits.includes(unit)).length;
        const n = failedBefore + 1;
        cyclesToOffline.push(n);
        if (n > 3) violations.push(`pull ${p}: unit ${unit} marked offline after ${n} poll cycles (more than 3)`);
      }
      if (timed) {
        const from = Date.now();
        const timeoutsBefore = master.unitStats(unit)?.timeouts ?? 0;
        await sleep(deadSec * 1000);
        dead = cycles.filter((c) => c.at > from && c.failedUnits.every((u) => u === unit)).map((c) => c.durationMs);
        probes = (master.unitStats(unit)?.timeouts ?? 0) - timeoutsBefore;
      }
      const returned = Date.now();
      room.sim.control.setOffline(unit, false);
      // Back once the breaker's next probe finds it: up to probeMaxMs (30 s) after a long outage.
      if (!(await until(() => ids.every((id) => room.daemon.machines.state(id)?.status !== 'offline'), 45_000))) violations.push(`pull ${p}: unit ${unit} not back online 45 s after it returned`);
      else backOnlineMs.push(Date.now() - returned);
      if (timed) {
        // A second window with every unit alive, after the dead one: load drifting over the run
        // then weighs on both sides of the comparison.
        const from = Date.now();
        await sleep(baselineSec * 1000);
        baseline = baseline.concat(cycles.filter((c) => c.at > from && c.failedUnits.length === 0).map((c) => c.durationMs));
        const blocks = poller.planBlocks();
        const planAll = planPoll({ blocks, line: LINE, intervalMs: pollIntervalMs, turnaroundMs: 5 }).cycleSeconds ?? NaN;
        const planLive = planPoll({ blocks: blocks.filter((b) => b.unit !== unit), line: LINE, intervalMs: pollIntervalMs, turnaroundMs: 5 }).cycleSeconds ?? NaN;
        // The live units alone, from the measured baseline with the unit's planned share taken out.
        const without = mean(baseline) * (planLive / planAll);
        const ratio = mean(dead) / without;
        Object.assign(figures, {
          timedUnit: unit,
          cycleMsAllAliveMean: r2(mean(baseline)),
          cycleMsAllAliveMedian: r2(median(baseline)),
          plannedShareOfTimedUnit: r2(1 - planLive / planAll),
          cycleMsWithoutDeadUnit: r2(without),
          cycleMsWithDeadUnitMean: r2(mean(dead)),
          cycleMsWithDeadUnitMedian: r2(median(dead)),
          cyclesMeasuredAlive: baseline.length,
          cyclesMeasuredDead: dead.length,
          deadUnitSlowdownRatio: r2(ratio),
          deadUnitSlowdownRatioMedian: r2(median(dead) / (median(baseline) * (planLive / planAll))),
          deadWindowSec: deadSec,
          breakerProbesInDeadWindow: probes,
          // What the probes cost the line, counted rather than timed: each waits out the reply
          // timeout and the drain after it.
          deadUnitLineShare: r2((probes * (replyTimeoutMs + master.options.drainQuietMs)) / (deadSec * 1000)),
        });
        const msg = `live units' cycle ${r2(mean(dead))} ms with unit ${unit} dead vs ${r2(without)} ms without it: ratio ${r2(ratio)}`;
        opts.log(`bus-faults: ${msg}`);
        if (!(ratio <= 1.1)) {
          if (opts.quick) notes.push(`${msg} (above 1.10; a timing, not checked in the quick run)`);
          else violations.push(`${msg} (above 1.10)`);
        }
      }
      for (const id of Object.keys(BUS_MACHINES)) customers.paused.delete(id);
      await sleep(500 + Math.floor(rnd() * 1000));
    }

    // 3. The USB adapter pulled and put back: the device node the gateway opens disappears.
    const portEvents: string[] = [];
    master.on('port-down', () => portEvents.push('down'));
    master.on('port-up', () => portEvents.push('up'));
    for (let i = 0; i < unplugs; i++) {
      room.removeAdapter();
      count('adapter-removed');
      await sleep(1000 + Math.floor(rnd() * 2000));
      room.restoreAdapter();
      if (!(await until(() => master.stats().portUp && allOnline(), 45_000))) violations.push(`unplug ${i}: bus not back (port ${master.stats().portUp ? 'up' : 'down'}) 45 s after the adapter returned`);
      await sleep(1000);
    }
    if (!portEvents.includes('down')) violations.push('the gateway never saw the adapter go away');

    // Settle: customers leave, the periodic reconcile finishes what a fault left open.
    await customers.stop();
    // 90 s: on a loaded machine a vend whose reply was lost waits out breaker backoffs and a
    // RIO-8 train before the reconcile can prove it; an open vend then is not lost money, and
    // one still open after this is reported by the money check below.
    const settled = await until(() => room.daemon.engine.blockedMachines().length === 0, 90_000);
    if (!settled) notes.push(`machines still blocked by an unsettled vend at the end: ${room.daemon.engine.blockedMachines().join(', ')}`);
    await sleep(500);
    stopAttendant();
    const money = checkMoney(room.sim, room.dbPath, base, violations);
    checkBalances(room.daemon.ledger, room.dbPath, violations);
    const stats = master.stats();
    Object.assign(figures, {
      ...Object.fromEntries([...faults].map(([k, n]) => [`faults.${k}`, n])),
      vendsCaptured: money.captured,
      vendsRefunded: money.refunded,
      refundReasons: JSON.stringify(money.refundReasons),
      unfinished: money.unfinished,
      outcomes: JSON.stringify(Object.fromEntries(customers.outcomes)),
      cyclesToOfflineMax: Math.max(...cyclesToOffline),
      cyclesToOffline: cyclesToOffline.join(','),
      secondsBackOnline: backOnlineMs.map((m) => (m / 1000).toFixed(1)).join(','),
      pollCycles: cycles.length,
      busTimeouts: stats.units.reduce((n, u) => n + u.timeouts, 0),
      busBadFrames: stats.units.reduce((n, u) => n + u.badFrames, 0),
      busDrainedBytes: stats.drainedBytes,
      busUnsolicitedBytes: stats.unsolicitedBytes,
      seconds: Math.round((Date.now() - started) / 1000),
    });
    if (money.captured === 0) violations.push('no vend was captured: the scenario did not exercise the vend path');
    return { name: 'bus-faults', violations, figures, notes };
  } finally {
    stopAttendant();
    await customers.stop();
    await room.close();
  }
}

const busFaults: TortureModule = { name: 'bus-faults', title: 'Corrupt, lost and late replies, units pulled mid-cycle and the USB adapter replugged during vends', run };
export default busFaults;
