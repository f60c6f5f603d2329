// What a device profile is: the data that says what to read from a unit each poll, small pure
// functions that turn those readings into normalized MachineStates, a discovery step run once per
// unit, and the command flows for its machines. The poller and the vend engine only ever speak
// these types, so a third device model is a new profile, not new control flow.
import type { Logger } from '../core/log.js';
import type { Clock } from '../core/clock.js';
import type { MachineCapabilities, MachineKind, MachineState, ProgramInfo } from '../machines/state.js';
import type { BlockReading, IoFailure, ReadBlock, UnitIo } from './io.js';
import type { ProfileOptions } from './options.js';

export type { BlockReading, ReadBlock } from './io.js';

/** Bad data from a device (an unknown model, a state value the datasheet does not list). */
export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

export interface DiscoveredMachine {
  machineId: string;
  name: string | null;
  kind: MachineKind;
  capabilities: MachineCapabilities;
  programs: ProgramInfo[];
}

/** What discovery learned about a unit: the 'discovered' event carries it as is. */
export interface DiscoveredUnit {
  unit: number;
  profile: string;
  /** Human-readable model, e.g. "LW-485 washer". */
  model: string;
  /** Raw model/type register. */
  modelCode: number;
  /** "major.minor". */
  firmware: string;
  serialNumber: number | null;
  capacityKg: number | null;
  machines: DiscoveredMachine[];
  /** Profile-specific facts (RIO-8 pulse timing, LW-485 last seq at discovery). */
  details: Record<string, number>;
}

// ---- commands -------------------------------------------------------------------------------

export type RejectReason =
  /** LW-485 result 2: a cycle is credited, running or paused. RIO-8: exception 06, a train is still running. */
  | 'busy'
  | 'door_open'
  | 'fault'
  | 'unknown_program'
  | 'bad_argument'
  | 'not_allowed'
  /** RIO-8: the machine shows "in use"; coins would be lost. */
  | 'in_use'
  /** A Modbus exception other than busy: the device refused the request itself. */
  | 'device_exception'
  /** Nothing was sent (breaker open, port down, unit not discovered yet): certainly not executed. */
  | 'unreachable'
  /** The request may have left but read-back proves the device did not act on it. */
  | 'not_executed';

/** What a vend record stores so that a crash between write and confirmation can be reconciled. */
export type CommandEvidence =
  | { profile: 'lw485'; unit: number; seq: number; code: number }
  | { profile: 'rio8'; unit: number; channel: number; counterBefore: number; coins: number }
  | { profile: 'meter'; unit: number; counterBefore: number };

export type CommandOutcome =
  | { status: 'accepted'; evidence: CommandEvidence }
  | { status: 'rejected'; reason: RejectReason; deviceCode: number | null; detail: string; evidence?: CommandEvidence }
  /** The device may or may not have acted: read back (or reconcile with `evidence`) before anything else. */
  | { status: 'unknown'; detail: string; evidence?: CommandEvidence }
  | { status: 'unsupported' };

export type ReconcileResult = 'executed-accepted' | 'executed-rejected' | 'not-executed' | 'unknown';

/**
 * Called with the command's evidence after everything is known and before the frame that may
 * execute it leaves, so the caller can make the evidence durable first (write-ahead): a crash
 * between the write and the answer can then always be reconciled. If it throws (or rejects),
 * nothing is written and the command's promise rejects with that error.
 */
export type BeforeSend = (evidence: CommandEvidence) => void | Promise<void>;

export interface CreditRequest {
  program: number;
  amountCents: number;
  /** Dryers on the LW-485: minutes bought. Must be absent for washers. */
  minutes?: number;
  beforeSend?: BeforeSend;
}

export interface AddTimeRequest {
  minutes: number;
  amountCents: number;
  beforeSend?: BeforeSend;
}

export interface MachineCommands {
  readonly machineId: string;
  credit(req: CreditRequest): Promise<CommandOutcome>;
  /**
   * A vend's credit: `amountCents` is what the ledger holds (0 for a free vend) and the profile
   * tells the machine what it needs to run the cycle paid (the LW-485 refuses a CREDIT of 0).
   */
  vendCredit(req: CreditRequest): Promise<CommandOutcome>;
  start(): Promise<CommandOutcome>;
  pause(): Promise<CommandOutcome>;
  resume(): Promise<CommandOutcome>;
  /** beforeSend: as a credit's, so a refund planned on the cancel is stored with its evidence first. */
  cancel(beforeSend?: BeforeSend): Promise<CommandOutcome>;
  addTime(req: AddTimeRequest): Promise<CommandOutcome>;
  /** A technician's actions (LW-485 CLEAR_FAULT, SERVICE_ON, SERVICE_OFF). */
  clearFault(): Promise<CommandOutcome>;
  serviceMode(on: boolean): Promise<CommandOutcome>;
}

// ---- the profile contract --------------------------------------------------------------------

export interface ProfileDeps {
  io: UnitIo;
  logger: Logger;
  clock: Clock;
  options: ProfileOptions;
}

/** A unit after discovery: decodes its poll readings and commands its machines. */
export interface UnitDriver {
  readonly info: DiscoveredUnit;
  /** Blocks read each poll, in order; `decode` gets their readings in the same order. */
  readonly pollBlocks: readonly ReadBlock[];
  /** Pure apart from noting device counters the command flows need (e.g. LW-485 last seq). */
  decode(readings: readonly BlockReading[], observedAt: number): MachineState[];
  commands(machineId: string): MachineCommands;
}

/** A profile bound to one unit's config, before the unit has been reached. */
export interface BoundProfile {
  readonly profile: string;
  readonly unit: number;
  /** Known from config alone: the poll-plan check needs it before any discovery. */
  pollBlocks(): ReadBlock[];
  /** Machines known from config alone; kind null when only discovery can tell. */
  configuredMachines(): { machineId: string; kind: MachineKind | null }[];
  /**
   * Reads the unit's identity and tables; throws ProfileError on a wrong device, or returns a
   * failure when it cannot be reached. `previous` is the driver of an earlier discovery of the
   * same unit (rediscovery after it was offline): state that must outlive it, such as the
   * LW-485 seqs already spent, is carried over.
   */
  discover(deps: ProfileDeps, previous: UnitDriver | null): Promise<{ ok: true; driver: UnitDriver } | { ok: false; failure: IoFailure }>;
}

export function unsupported(): Promise<CommandOutcome> {
  return Promise.resolve({ status: 'unsupported' });
}

/** What a machine whose only command is a credit can do beyond it: nothing (a coin retrofit, a credit meter). */
export const CREDIT_ONLY_CAPABILITIES: MachineCapabilities = {
  remainingTime: false,
  pause: false,
  remoteStart: false,
  addTime: false,
  cancel: false,
  sensors: false,
  doorAndFaults: false,
};

/**
 * The commands of a machine whose only command is a credit that starts it (a coin retrofit, a
 * credit meter): what was paid does not reach the wire, so a vend's credit is the same credit.
 */
export function creditOnlyCommands(machineId: string, credit: (req: CreditRequest) => Promise<CommandOutcome>): MachineCommands {
  return {
    machineId,
    credit,
    vendCredit: credit,
    start: unsupported,
    pause: unsupported,
    resume: unsupported,
    cancel: unsupported,
    addTime: unsupported,
    clearFault: unsupported,
    serviceMode: unsupported,
  };
}

/** A MachineState with everything unknown: for machines not reached yet. */
export function blankState(machineId: string, kind: MachineKind, observedAt: number): MachineState {
  return {
    machineId,
    kind,
    status: 'offline',
    program: null,
    selectedProgram: null,
    remainingSec: null,
    door: null,
    faultCode: null,
    creditCents: null,
    sensors: { loadWeightGrams: null, waterHardnessDh: null },
    confirm: {},
    observedAt,
  };
}
