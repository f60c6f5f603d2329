// One normalized view of a washer or dryer, whatever device model drives it. The poller, the
// vend engine, the uplink and the status page all speak this type; profiles translate to it.

export type MachineKind = 'washer' | 'dryer';

export type MachineStatus = 'idle' | 'credited' | 'running' | 'paused' | 'done' | 'fault' | 'service' | 'offline';

export interface MachineCapabilities {
  /** The device reports remaining seconds. */
  remainingTime: boolean;
  pause: boolean;
  remoteStart: boolean;
  /** Extra minutes can be bought while running (dryers). */
  addTime: boolean;
  /** A credited but unstarted cycle can be cancelled on the device. */
  cancel: boolean;
  /** Load weight / water hardness may be reported. */
  sensors: boolean;
  /** The device reports door and fault detail. */
  doorAndFaults: boolean;
}

export interface MachineState {
  machineId: string;
  kind: MachineKind;
  status: MachineStatus;
  /** Program of the credited, running or paused cycle; null when none or not knowable. */
  program: number | null;
  /** Program selected on the panel; null when nothing is selected or not knowable. */
  selectedProgram: number | null;
  remainingSec: number | null;
  door: { closed: boolean; locked: boolean } | null;
  faultCode: number | null;
  /** Cents credited and not yet consumed, as the device reports it; null when not knowable. */
  creditCents: number | null;
  sensors: { loadWeightGrams: number | null; waterHardnessDh: number | null };
  /**
   * Device facts only the machine's profile reads (the proof of its commands: receipt.ts in
   * gateway/profiles/); opaque to everything else. JSON-safe numbers by key.
   */
  confirm: unknown;
  /** Wall-clock ms of the poll that produced this state. */
  observedAt: number;
}

export interface ProgramInfo {
  program: number;
  name: string;
  durationMin: number;
  temperatureC: number | null;
  maxSpinRpm: number | null;
  listPriceCents: number | null;
}
