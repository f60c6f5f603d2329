// What each entity shows, from the gateway's normalized machine state: pure, no I/O. Only status,
// remaining time, door and fault are read; credit, program price and the vend's card or account
// are never looked at, so they cannot reach the building's broker. "None" is Home Assistant's
// "unknown" for sensors and binary sensors alike.
import type { MachineKind, MachineState } from '../machines/state.js';
import type { MachineEntityKey, RoomEntityKey } from './naming.js';

export const UNKNOWN = 'None';

/** A re-estimate of the end within this of the one shown is not news (poll jitter, whole minutes). */
const END_STABLE_MS = 60_000;

export interface MachineView {
  values: Partial<Record<MachineEntityKey, string>>;
  /** The fault's code as the machine's panel shows it, for the fault entity's attributes. */
  faultAttributes: { code: number | null; panel: string | null };
  /** The expected end in ms, to keep it stable across small re-estimates. */
  endMs: number | null;
}

/** A machine that cannot tell its time left (RIO-8): when the gateway saw it start, and the configured cycle. */
export interface CycleEstimate {
  runningSinceMs: number | null;
  cycleMinutes: number;
}

/**
 * @param previousEndMs the end shown so far for this machine (kept if the new estimate is within a minute of it)
 * @param clockTrusted false while the wall clock is not known good (a Pi without RTC before NTP): no end is shown then
 * @param cycle for a machine without a remaining time: the end is its start plus the configured cycle
 */
export function machineView(s: MachineState, keys: readonly MachineEntityKey[], previousEndMs: number | null, clockTrusted: boolean, cycle: CycleEstimate | null = null): MachineView {
  const offline = s.status === 'offline';
  const fault = (s.faultCode ?? 0) > 0 || s.status === 'fault';
  let endMs: number | null = null;
  if (s.status === 'running' && clockTrusted) {
    if (s.remainingSec !== null && s.remainingSec > 0) {
      const estimate = Math.round((s.observedAt + s.remainingSec * 1000) / 1000) * 1000;
      endMs = previousEndMs !== null && Math.abs(previousEndMs - estimate) < END_STABLE_MS ? previousEndMs : estimate;
    } else if (s.remainingSec === null && cycle !== null && cycle.runningSinceMs !== null) {
      endMs = Math.round((cycle.runningSinceMs + cycle.cycleMinutes * 60_000) / 1000) * 1000;
    }
  }
  const all: Record<MachineEntityKey, string> = {
    status: s.status,
    remaining: offline || s.remainingSec === null ? UNKNOWN : String(Math.ceil(s.remainingSec / 60)),
    end: endMs === null ? UNKNOWN : new Date(endMs).toISOString().replace('.000Z', 'Z'),
    running: offline ? UNKNOWN : s.status === 'running' ? 'ON' : 'OFF',
    door: offline || s.door === null ? UNKNOWN : s.door.closed ? 'OFF' : 'ON',
    fault: offline ? UNKNOWN : fault ? 'ON' : 'OFF',
  };
  const values: Partial<Record<MachineEntityKey, string>> = {};
  for (const k of keys) values[k] = all[k];
  const code = s.faultCode !== null && s.faultCode > 0 ? s.faultCode : null;
  return { values, faultAttributes: { code, panel: code === null ? null : `E${String(code).padStart(2, '0')}` }, endMs };
}

/** Free means idle: not paid for, not running, and not holding someone's finished laundry. */
export function roomCounts(states: Iterable<{ kind: MachineKind | null; status: MachineState['status'] | null }>): Record<RoomEntityKey, string> {
  let washers = 0;
  let dryers = 0;
  for (const s of states) {
    if (s.status !== 'idle') continue;
    if (s.kind === 'washer') washers++;
    else if (s.kind === 'dryer') dryers++;
  }
  return { free_washers: String(washers), free_dryers: String(dryers) };
}
