// Turns the source's domain objects into the page's views (status-schema.ts). Nothing here
// reads a UID: vends carry their mask only, alerts their code and message.
import type { BusStats } from '../bus/stats.js';
import type { MachineState } from '../machines/state.js';
import { faultView } from './fault-text.js';
import type { BusHealth, HealthView, MachineView } from './status-schema.js';
import type { StatusSource } from './status-source.js';

export function machineView(source: StatusSource, state: MachineState, blocked: ReadonlySet<string>): MachineView {
  const info = source.machineInfo(state.machineId);
  const program = state.program ?? state.selectedProgram;
  const programName = program === null ? null : (source.programs(state.machineId).find((p) => p.program === program)?.name ?? null);
  return {
    machineId: state.machineId,
    name: info.name,
    kind: state.kind,
    busId: info.busId,
    unit: info.unit,
    status: state.status,
    program: state.program,
    programName,
    selectedProgram: state.selectedProgram,
    remainingSec: state.remainingSec === null ? null : Math.max(0, Math.round(state.remainingSec)),
    door: state.door ? { closed: state.door.closed, locked: state.door.locked } : null,
    fault: faultView(state.faultCode),
    creditCents: state.creditCents,
    sensors: { loadWeightGrams: state.sensors.loadWeightGrams, waterHardnessDh: state.sensors.waterHardnessDh },
    blocked: blocked.has(state.machineId),
    observedAt: state.observedAt,
  };
}

/** A configured machine the poller has not reached yet still gets a card on the page. */
function unknownMachine(source: StatusSource, machineId: string, blocked: ReadonlySet<string>): MachineView {
  const info = source.machineInfo(machineId);
  return {
    machineId,
    name: info.name,
    kind: info.kind ?? 'washer',
    busId: info.busId,
    unit: info.unit,
    status: 'offline',
    program: null,
    programName: null,
    selectedProgram: null,
    remainingSec: null,
    door: null,
    fault: null,
    creditCents: null,
    sensors: { loadWeightGrams: null, waterHardnessDh: null },
    blocked: blocked.has(machineId),
    observedAt: 0,
  };
}

export function machineViews(source: StatusSource): MachineView[] {
  const blocked = new Set(source.blockedMachines());
  return source.machineIds().map((id) => {
    const s = source.machine(id);
    return s ? machineView(source, s, blocked) : unknownMachine(source, id, blocked);
  });
}

function busHealth(b: BusStats): BusHealth {
  return {
    busId: b.busId,
    portUp: b.portUp,
    queueLength: b.queueLength,
    units: b.units.map((u) => ({
      unit: u.unit,
      requests: u.requests,
      ok: u.ok,
      timeouts: u.timeouts,
      badFrames: u.badFrames,
      exceptions: u.exceptions,
      breakerRejected: u.breakerRejected,
      portDown: u.portDown,
      latencyMs: { last: tenths(u.latencyMs.last), avg: tenths(u.latencyMs.avg), max: tenths(u.latencyMs.max) },
      breaker: u.breaker,
      consecutiveFailures: u.consecutiveFailures,
      lastOkAt: u.lastOkAt,
    })),
  };
}

/** Latency to a tenth of a millisecond: finer is noise on a status page. */
function tenths(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 10) / 10;
}

export function healthView(source: StatusSource, now: number): HealthView {
  const c = source.clock();
  const o = source.outbox();
  const up = source.uplink();
  return {
    generatedAt: now,
    buses: source.buses().map(busHealth),
    clock: { trusted: c.trusted, floorSec: c.floorSec, systemSec: c.systemSec, nowSec: c.nowSec, source: c.source },
    uplink: { state: up.state, lastAckAt: up.lastAckAt, outbox: { depth: o.depth, oldestAgeMs: o.oldestAgeMs, lastSeq: o.lastSeq, ackedSeq: o.ackedSeq, deadLetters: o.deadLetters } },
  };
}
