// What the control server needs of the running daemon, as a narrow interface, and the adapter
// that builds it from the daemon's parts (ControlParts, which the Daemon meets by shape). Tests
// can build a target from parts without a whole daemon.
import type { BusClient } from '../bus/types.js';
import type { BusStats } from '../bus/stats.js';
import type { RoomBus } from '../machines/room-bus.js';
import type { MachineState } from '../machines/state.js';
import type { DiscoveredUnit } from '../profiles/types.js';
import { unitMachineIds } from '../profiles/config-schema.js';
import type { AlertsLedger, CardsLedger } from '../../storage/index.js';
import type { LedgerReader } from './queries.js';

export interface ControlBus {
  readonly id: string;
  /** The daemon's bus master: the only code that touches the wire. */
  readonly client: BusClient;
  stats(): BusStats;
  /** Configured units, each with the machine ids it drives. */
  readonly units: ReadonlyArray<{ unit: number; machineIds: readonly string[] }>;
  states(): MachineState[];
  discoveredUnits(): DiscoveredUnit[];
}

export type ControlLedger = LedgerReader & CardsLedger & AlertsLedger;

export interface ControlTarget {
  readonly room: { id: string; name: string | null };
  readonly bootId: string;
  readonly ledger: ControlLedger;
  readonly buses: readonly ControlBus[];
  blockedMachines(): string[];
  clockTrusted(): boolean;
}

/** The daemon's parts the control target is built from. */
export interface ControlParts {
  readonly config: { readonly room: { readonly id: string; readonly name?: string | undefined } };
  readonly bootId: string;
  readonly ledger: ControlLedger;
  readonly buses: ReadonlyArray<Pick<RoomBus, 'config' | 'master' | 'poller'>>;
  readonly engine: { blockedMachines(): string[] };
  readonly clockFloor: { status(): { trusted: boolean } };
}

export function controlTargetOf(daemon: ControlParts): ControlTarget {
  return {
    room: { id: daemon.config.room.id, name: daemon.config.room.name ?? null },
    bootId: daemon.bootId,
    ledger: daemon.ledger,
    buses: daemon.buses.map((b) => ({
      id: b.config.id,
      client: b.master,
      stats: () => b.master.stats(),
      units: b.config.units.map((u) => ({ unit: u.unit, machineIds: unitMachineIds(u) })),
      states: () => b.poller.states(),
      discoveredUnits: () => b.poller.discoveredUnits(),
    })),
    blockedMachines: () => daemon.engine.blockedMachines(),
    clockTrusted: () => daemon.clockFloor.status().trusted,
  };
}
