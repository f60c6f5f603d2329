// The machines Home Assistant is told about, from the gateway config: id, name, kind and the
// profile that says what the machine can report. An LW-485 configured without a kind gets one
// from its first polled state (the controller's model register says washer or dryer).
import type { MachineKind } from '../machines/state.js';
import type { UnitConfig } from '../profiles/config-schema.js';

export interface HaMachine {
  machineId: string;
  /** The operator's name for it in the config; null: "Washer W1". */
  name: string | null;
  profile: 'lw485' | 'rio8';
  kind: MachineKind | null;
  /** RIO-8: the cycle length the operator configured (the module cannot read the time left). */
  cycleMinutes: number | null;
}

export function haMachinesOf(buses: readonly { units: readonly UnitConfig[] }[]): HaMachine[] {
  return buses.flatMap((b) =>
    b.units.flatMap((u): HaMachine[] =>
      u.profile === 'lw485'
        ? [{ machineId: u.machineId, name: u.name ?? null, profile: 'lw485', kind: u.kind ?? null, cycleMinutes: null }]
        : u.channels.map((c) => ({ machineId: c.machineId, name: c.name ?? null, profile: 'rio8', kind: c.kind, cycleMinutes: c.cycleMinutes })),
    ),
  );
}
