// The poller's public types: its options, its events and what its methods return. Kept apart
// so consumers (vend engine, web page, uplink) can import them without the poller itself.
import { z } from 'zod';
import type { BusClient } from '../bus/types.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { UnitConfig } from '../profiles/config-schema.js';
import type { ProfileOptionsInput } from '../profiles/options.js';
import type { DiscoveredUnit, ReadBlock } from '../profiles/types.js';
import type { ChangedField } from './change.js';
import type { MachineState, MachineStatus } from './state.js';

export interface PollerOptions {
  bus: BusClient;
  units: readonly UnitConfig[];
  intervalMs: number;
  logger: Logger;
  clock: Clock;
  profiles?: ProfileOptionsInput;
  /** Consecutive failed cycles before a unit's machines show 'offline'. */
  offlineAfterFailedCycles?: number;
  /** How often a unit that has not been discovered yet is tried again. */
  discoveryRetryMs?: number;
}

/** The poller's own numbers, validated like every other options object. */
export const pollerTuningSchema = z.strictObject({
  intervalMs: z.int().min(10).max(600_000),
  offlineAfterFailedCycles: z.int().min(1).max(100).default(3),
  discoveryRetryMs: z.int().min(10).max(3_600_000).default(5000),
});

export interface StateEvent {
  state: MachineState;
  previous: MachineState | null;
  changed: ChangedField[];
}

export interface TickEvent {
  at: number;
  machines: { machineId: string; status: MachineStatus; remainingSec: number | null }[];
}

export interface CycleEvent {
  cycle: number;
  durationMs: number;
  /** Units whose poll (or discovery) failed this cycle. */
  failedUnits: number[];
}

export interface PollerEvents {
  state: [StateEvent];
  tick: [TickEvent];
  cycle: [CycleEvent];
  discovered: [DiscoveredUnit];
  error: [Error];
}

export type ReadNowResult = { ok: true; state: MachineState } | { ok: false; detail: string };

/** A poll block with the unit it belongs to: the shape gateway/bus/poll-plan.ts checks. */
export interface PlannedBlock extends ReadBlock {
  unit: number;
}
