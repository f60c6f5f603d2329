// The machines Home Assistant is told about, from the gateway config: id, name, kind and the
// profile that says what the machine can report. An LW-485 configured without a kind gets one
// from its first polled state (the controller's model register says washer or dryer).
import type { MachineKind } from '../machines/state.js';
import { configuredMachines, type UnitConfig } from '../profiles/config-schema.js';

export interface HaMachine {
  machineId: string;
  /** The operator's name for it in the config; null: "Washer W1". */
  name: string | null;
  profile: UnitConfig['profile'];
  kind: MachineKind | null;
  /** A device that cannot read the time left (RIO-8): the cycle length the operator configured. */
  cycleMinutes: number | null;
}

export function haMachinesOf(buses: readonly { units: readonly UnitConfig[] }[]): HaMachine[] {
  return buses.flatMap((b) =>
    b.units.flatMap((u): HaMachine[] => configuredMachines(u).map((m) => ({ machineId: m.machineId, name: m.name, profile: u.profile, kind: m.kind, cycleMinutes: m.cycleMinutes }))),
  );
}
