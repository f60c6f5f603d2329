// LW-485 controller (vendor sheet rev 1.3): register map, pure decoders from register arrays to
// normalized types, the command block encoding, seq arithmetic and crash reconciliation. No I/O.
import type { MachineCapabilities, MachineKind, MachineState, MachineStatus, ProgramInfo } from '../machines/state.js';
import { ProfileError, type CommandEvidence, type ReadBlock, type ReconcileResult, type RejectReason } from './types.js';

export const LW485 = {
  modelWasher: 0x5701,
  modelDryer: 0x4401,
  identityBlock: { fc: 4, address: 0, quantity: 6, label: 'lw485 identity 0-5' } satisfies ReadBlock,
  /** The whole status block in one read, as the datasheet asks. */
  statusBlock: { fc: 4, address: 16, quantity: 14, label: 'lw485 status 16-29' } satisfies ReadBlock,
  /** Inputs 24-25: last seq, last result. */
  resultBlock: { fc: 4, address: 24, quantity: 2, label: 'lw485 last seq/result 24-25' } satisfies ReadBlock,
  commandAddress: 256,
  programTableAddress: 512,
  programStride: 8,
  maxPrograms: 16,
} as const;

export const Lw485Command = {
  CREDIT: 1,
  PAUSE: 2,
  RESUME: 3,
  CANCEL: 4,
  ADD_TIME: 5,
  START: 6,
  CLEAR_FAULT: 7,
  SERVICE_ON: 8,
  SERVICE_OFF: 9,
} as const;
export type Lw485CommandCode = (typeof Lw485Command)[keyof typeof Lw485Command];

const STATES: readonly MachineStatus[] = ['idle', 'credited', 'running', 'paused', 'done', 'fault', 'service'];

const WASHER_PHASES: Readonly<Record<number, string>> = { 0: 'none', 1: 'fill', 2: 'wash', 3: 'rinse', 4: 'spin', 5: 'drain' };
const DRYER_PHASES: Readonly<Record<number, string>> = { 0: 'none', 11: 'heat', 12: 'cool-down', 13: 'anti-crease' };

/** Input 25 result codes 2-7; 1 is accepted. */
export const LW485_REJECTIONS: Readonly<Record<number, RejectReason>> = {
  2: 'busy',
  3: 'door_open',
  4: 'fault',
  5: 'unknown_program',
  6: 'bad_argument',
  7: 'not_allowed',
};

export const NO_HARDNESS_SENSOR = 65535;

export interface Lw485Identity {
  modelCode: number;
  kind: MachineKind;
  firmware: string;
  serialNumber: number;
  capacityKg: number;
  programCount: number;
}

export function kindOfModel(modelCode: number): MachineKind {
  if (modelCode === LW485.modelWasher) return 'washer';
  if (modelCode === LW485.modelDryer) return 'dryer';
  throw new ProfileError(
    `model register is 0x${modelCode.toString(16).padStart(4, '0')}: neither an LW-485 washer (0x5701) nor dryer (0x4401); check the unit address and the configured profile`,
  );
}

export function firmwareString(reg: number): string {
  return `${reg >> 8}.${reg & 0xff}`;
}

/** Inputs 0-5. */
export function decodeIdentity(regs: readonly number[]): Lw485Identity {
  if (regs.length !== 6) throw new ProfileError(`identity block has ${regs.length} registers, expected 6`);
  const [model = 0, fw = 0, serHi = 0, serLo = 0, capacity = 0, count = 0] = regs;
  const kind = kindOfModel(model);
  if (count < 1 || count > LW485.maxPrograms) throw new ProfileError(`program count ${count} is outside 1-${LW485.maxPrograms}`);
  return { modelCode: model, kind, firmware: firmwareString(fw), serialNumber: serHi * 65536 + serLo, capacityKg: capacity / 10, programCount: count };
}

/** Four registers of two ASCII characters each, high byte first, space padded. */
export function decodeName(regs: readonly number[]): string {
  let s = '';
  for (const r of regs) {
    for (const c of [r >> 8, r & 0xff]) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : c === 0 ? ' ' : '?';
  }
  return s.trimEnd();
}

/** The 8 registers of program p at 512 + 8(p-1). */
export function decodeProgram(program: number, regs: readonly number[], kind: MachineKind): ProgramInfo {
  if (regs.length !== LW485.programStride) throw new ProfileError(`program ${program} entry has ${regs.length} registers, expected 8`);
  const [duration = 0, temp = 0, spin = 0, price = 0] = regs;
  return {
    program,
    name: decodeName(regs.slice(4, 8)) || `P${program}`,
    durationMin: duration,
    // Dryers give a heat level (0-3), not degrees: no honest °C to report.
    temperatureC: kind === 'washer' ? temp : null,
    maxSpinRpm: kind === 'washer' ? spin * 10 : null,
    listPriceCents: price,
  };
}

/** Decodes a whole program table read (count × 8 registers starting at 512). */
export function decodeProgramTable(regs: readonly number[], count: number, kind: MachineKind): ProgramInfo[] {
  if (regs.length !== count * LW485.programStride) throw new ProfileError(`program table has ${regs.length} registers, expected ${count * 8}`);
  const out: ProgramInfo[] = [];
  for (let p = 1; p <= count; p++) out.push(decodeProgram(p, regs.slice((p - 1) * 8, p * 8), kind));
  return out;
}

/** Program-table reads of at most `perRead` programs each. */
export function programTableBlocks(count: number, perRead: number): ReadBlock[] {
  const blocks: ReadBlock[] = [];
  for (let first = 1; first <= count; first += perRead) {
    const n = Math.min(perRead, count - first + 1);
    // The table sits among the holding registers (fc03), read only.
    blocks.push({ fc: 3, address: LW485.programTableAddress + (first - 1) * 8, quantity: n * 8, label: `lw485 programs ${first}-${first + n - 1}` });
  }
  return blocks;
}

export function capabilitiesOf(kind: MachineKind): MachineCapabilities {
  return { remainingTime: true, pause: true, remoteStart: true, addTime: kind === 'dryer', cancel: true, sensors: true, doorAndFaults: true };
}

export interface Lw485Status {
  state: number;
  status: MachineStatus;
  phase: number;
  phaseName: string;
  remainingSec: number;
  activeProgram: number | null;
  selectedProgram: number | null;
  door: { closed: boolean; locked: boolean };
  faultCode: number;
  creditCents: number;
  lastSeq: number;
  lastResult: number;
  cycleCounter: number;
  loadWeightGrams: number | null;
  waterHardnessDh: number | null;
}

/** Inputs 16-29, one read of 14 registers. */
export function decodeStatus(regs: readonly number[], kind: MachineKind): Lw485Status {
  if (regs.length !== LW485.statusBlock.quantity) throw new ProfileError(`status block has ${regs.length} registers, expected 14`);
  const r = (addr: number): number => regs[addr - 16] ?? 0;
  const state = r(16);
  const status = STATES[state];
  if (status === undefined) throw new ProfileError(`state register is ${state}, not a state the datasheet lists (0-6)`);
  const phase = r(17);
  const phaseName = (kind === 'washer' ? WASHER_PHASES : DRYER_PHASES)[phase] ?? `unknown(${phase})`;
  const door = r(21);
  const hardness = r(29);
  return {
    state,
    status,
    phase,
    phaseName,
    remainingSec: r(18),
    activeProgram: r(19) === 0 ? null : r(19),
    selectedProgram: r(20) === 0 ? null : r(20),
    door: { closed: (door & 1) === 1, locked: (door & 2) === 2 },
    faultCode: r(22),
    creditCents: r(23),
    lastSeq: r(24),
    lastResult: r(25),
    cycleCounter: r(26) * 65536 + r(27),
    loadWeightGrams: r(28) === 0 ? null : r(28) * 10,
    waterHardnessDh: hardness === NO_HARDNESS_SENSOR ? null : hardness / 10,
  };
}

/** The device facts an LW-485 state carries for its proof (lw485-receipt.ts) and the status page. */
export interface Lw485Facts {
  lastSeq: number;
  lastResult: number;
  cycleCounter: number;
  phase: number;
}

export function toMachineState(machineId: string, kind: MachineKind, s: Lw485Status, observedAt: number): MachineState & { confirm: Lw485Facts } {
  return {
    machineId,
    kind,
    status: s.status,
    program: s.activeProgram,
    selectedProgram: s.selectedProgram,
    remainingSec: s.remainingSec,
    door: s.door,
    // The LW-485 always knows: 0 is "no fault", not "unknown".
    faultCode: s.faultCode,
    creditCents: s.creditCents,
    sensors: { loadWeightGrams: s.loadWeightGrams, waterHardnessDh: s.waterHardnessDh },
    confirm: { lastSeq: s.lastSeq, lastResult: s.lastResult, cycleCounter: s.cycleCounter, phase: s.phase },
    observedAt,
  };
}

/** The successor of a seq in 1..65535, never 0. */
export function seqAfter(seq: number): number {
  return (seq % 65535) + 1;
}

/**
 * The seq for the next command: after the last one we issued (so a seq whose fate is unknown is
 * never reused for a different command) and never the device's current last seq, which would be
 * taken as a repeat and silently ignored.
 */
export function nextSeq(lastIssued: number, deviceLastSeq: number): number {
  let s = seqAfter(lastIssued);
  if (s === deviceLastSeq) s = seqAfter(s);
  return s;
}

export interface CommandBlock {
  seq: number;
  code: Lw485CommandCode;
  program: number;
  amountCents: number;
  minutes: number;
}

/** Registers 256-260 for the one fc16 write; throws on values a register cannot hold. */
export function encodeCommandBlock(c: CommandBlock): number[] {
  const values = [c.seq, c.code, c.program, c.amountCents, c.minutes];
  for (const v of values) if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new ProfileError(`command value ${v} does not fit a register`);
  if (c.seq === 0) throw new ProfileError('seq 0 never executes');
  return values;
}

export type ResultMapping = { status: 'accepted' } | { status: 'rejected'; reason: RejectReason; deviceCode: number } | { status: 'unknown'; deviceCode: number };

export function mapResult(code: number): ResultMapping {
  if (code === 1) return { status: 'accepted' };
  const reason = LW485_REJECTIONS[code];
  return reason === undefined ? { status: 'unknown', deviceCode: code } : { status: 'rejected', reason, deviceCode: code };
}

/**
 * At start-up, for a command whose outcome was never recorded: did the device execute the seq we
 * stored? `current` is inputs 24-25 (MachineState.confirm has them as lastSeq/lastResult), null
 * when the unit cannot be read. Only meaningful when nothing else has commanded the unit since.
 */
export function reconcileLw485(evidence: CommandEvidence, current: { lastSeq: number; lastResult: number } | null): ReconcileResult {
  if (evidence.profile !== 'lw485' || current === null || evidence.seq < 1 || evidence.seq > 65535) return 'unknown';
  if (current.lastSeq !== evidence.seq) return 'not-executed';
  const m = mapResult(current.lastResult);
  return m.status === 'accepted' ? 'executed-accepted' : m.status === 'rejected' ? 'executed-rejected' : 'unknown';
}
