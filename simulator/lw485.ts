// A pure model of one LW-485 controller (interface sheet rev 1.3): registers, the command block
// with its seq protocol, the state machine, faults and the panel. No timers and no I/O: time only
// moves when advance() is called, so every behaviour is tested step by step.
import { ExceptionCode, LIMITS, type ModbusReply, type ModbusRequest } from '../protocols/modbus/pdu.js';
import { CAPACITY, DRYER_ANTI_CREASE_MS, MODEL_CODE, Phase, cyclePhase, programRegisters, programsFor, type Lw485Kind, type Lw485Program } from './lw485-programs.js';
import { SimActionError } from './errors.js';
import { executeCommand, LW485_STATE_NAMES, Lw485Result, Lw485State, startCycle, type Lw485Json, type PendingCommand } from './lw485-commands.js';

export { Lw485Command, Lw485Result, Lw485State, LW485_STATE_NAMES, type Lw485Json, type Lw485StateValue } from './lw485-commands.js';

export const CMD_BLOCK = 256;
export const PROGRAM_TABLE = 512;
const INPUT_REGS = 32;
const WASHER_FAULTS = [1, 2, 3, 4, 5, 6];
const DRYER_FAULTS = [3, 5, 6, 7, 8];

export interface Lw485Options {
  kind: Lw485Kind;
  serial: number;
  firmware?: number;
  loadCell?: boolean;
  hardnessSensor?: boolean;
  /** Tenths of a degree dH reported while a sensor is fitted. */
  hardnessDh10?: number;
  cycleCounter?: number;
  /** Sim ms between an executing fc16 write and its result showing in inputs 24/25 (spec: < 200 ms real). */
  resultDelayMs?: number;
  /** Sim ms the EEPROM stays busy (writes get exception 06) after each accepted command; 0 = never. */
  eepromWriteMs?: number;
}

export interface Lw485Snapshot extends Lw485Json {
  model: 'lw485-washer' | 'lw485-dryer';
  stateName: (typeof LW485_STATE_NAMES)[number];
  phase: number;
  remainingSec: number;
  /** A command written but whose result is not visible yet. */
  pendingSeq: number | null;
  inputRegisters: number[];
  /**
   * Commands this controller accepted since the simulator built it, by command code (1 CREDIT,
   * 4 CANCEL, 5 ADD_TIME, …): the machine's own word on what it was told to deliver, which the
   * money checks of the tests hold the ledger to. Not part of the EEPROM: a power cycle starts it anew.
   */
  accepted: Record<number, number>;
}


const exception = (fc: number, code: number): ModbusReply => ({ kind: 'exception', fc, code });

export class Lw485 {
  private s: Lw485Json;
  private readonly programs: readonly Lw485Program[];
  private readonly resultDelayMs: number;
  private readonly eepromWriteMs: number;
  private t = 0;
  private pending: PendingCommand | null = null;
  private busyUntil = -1;
  private readonly accepted: Record<number, number> = {};

  constructor(opts: Lw485Options, restored?: Lw485Json) {
    this.programs = programsFor(opts.kind);
    this.resultDelayMs = opts.resultDelayMs ?? 0;
    this.eepromWriteMs = opts.eepromWriteMs ?? 0;
    const factory = Lw485.factory(opts);
    // The config describes the hardware: identity and fitted sensors come from it, the rest from the EEPROM.
    this.s =
      restored && restored.kind === opts.kind
        ? { ...restored, staged: [...restored.staged], serial: factory.serial, loadCell: factory.loadCell, hardnessSensor: factory.hardnessSensor }
        : factory;
  }

  static factory(opts: Lw485Options): Lw485Json {
    return {
      kind: opts.kind,
      serial: opts.serial >>> 0,
      firmware: opts.firmware ?? 0x0103,
      state: Lw485State.Idle,
      activeProgram: 0,
      selectedProgram: 0,
      remainingMs: 0,
      cycleTotalMs: 0,
      doorClosed: true,
      doorLocked: false,
      faultCode: 0,
      faultFrom: null,
      faultConditionActive: false,
      creditCents: 0,
      creditMinutes: 0,
      cyclePaidCents: 0,
      lastSeq: 0,
      lastResult: 0,
      cycleCounter: opts.cycleCounter ?? 0,
      loadCell: opts.loadCell ?? false,
      loadGrams: 0,
      hardnessSensor: opts.kind === 'washer' && (opts.hardnessSensor ?? false),
      hardnessDh10: opts.hardnessDh10 ?? 140,
      staged: [0, 0, 0, 0, 0],
      doneMs: 0,
    };
  }

  get kind(): Lw485Kind {
    return this.s.kind;
  }

  toJSON(): Lw485Json {
    return { ...this.s, staged: [...this.s.staged] };
  }

  /** Makes the EEPROM "busy" for `ms` sim ms: writes get exception 06 meanwhile. */
  eepromBusy(ms: number): void {
    this.busyUntil = this.t + ms;
  }

  advance(ms: number): void {
    const end = this.t + Math.max(0, ms);
    while (this.pending && this.pending.dueAt <= end) {
      this.run(this.pending.dueAt - this.t);
      this.flushPending();
    }
    this.run(end - this.t);
  }

  private run(ms: number): void {
    ms = Math.max(0, ms);
    this.t += ms;
    if (this.s.state === Lw485State.Running) {
      this.s.remainingMs = Math.max(0, this.s.remainingMs - ms);
      if (this.s.remainingMs === 0) this.finish();
    } else if (this.s.state === Lw485State.Done) {
      this.s.doneMs += ms;
    }
  }

  private finish(): void {
    Object.assign(this.s, { state: Lw485State.Done, activeProgram: 0, remainingMs: 0, cycleTotalMs: 0, doorLocked: false, doneMs: 0, cyclePaidCents: 0 });
  }

  private flushPending(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.s.lastResult = executeCommand(this.s, this.programs, p);
    this.s.lastSeq = p.seq;
    if (this.s.lastResult === Lw485Result.Accepted) this.accepted[p.code] = (this.accepted[p.code] ?? 0) + 1;
    if (this.s.lastResult === Lw485Result.Accepted && this.eepromWriteMs > 0) this.busyUntil = Math.max(this.busyUntil, this.t + this.eepromWriteMs);
  }

  // ---- Modbus ----

  handle(req: ModbusRequest): ModbusReply {
    if (this.pending && this.pending.dueAt <= this.t) this.flushPending();
    switch (req.fc) {
      case 4:
        return this.readInputs(req.address, req.quantity);
      case 3:
        return this.readHolding(req.address, req.quantity);
      case 6:
        return this.writeHolding(6, req.address, [req.value]);
      case 16:
        return this.writeHolding(16, req.address, req.values);
      default:
        return exception(req.fc, ExceptionCode.IllegalFunction);
    }
  }

  inputRegisters(): number[] {
    const s = this.s;
    const regs = new Array<number>(INPUT_REGS).fill(0);
    regs[0] = MODEL_CODE[s.kind];
    regs[1] = s.firmware;
    regs[2] = (s.serial >>> 16) & 0xffff;
    regs[3] = s.serial & 0xffff;
    regs[4] = CAPACITY[s.kind];
    regs[5] = this.programs.length;
    regs[16] = s.state;
    regs[17] = this.phase();
    regs[18] = Math.min(0xffff, Math.ceil(s.remainingMs / 1000));
    regs[19] = s.activeProgram;
    regs[20] = s.selectedProgram;
    regs[21] = (s.doorClosed ? 1 : 0) | (s.doorLocked ? 2 : 0);
    regs[22] = s.faultCode;
    regs[23] = s.creditCents;
    regs[24] = s.lastSeq;
    regs[25] = s.lastResult;
    regs[26] = (s.cycleCounter >>> 16) & 0xffff;
    regs[27] = s.cycleCounter & 0xffff;
    regs[28] = s.loadCell ? Math.min(0xffff, Math.round(s.loadGrams / 10)) : 0;
    regs[29] = s.hardnessSensor ? s.hardnessDh10 : 0xffff;
    return regs;
  }

  private readInputs(address: number, quantity: number): ModbusReply {
    if (quantity < 1 || quantity > LIMITS.readRegisters) return exception(4, ExceptionCode.IllegalDataValue);
    if (address + quantity > INPUT_REGS) return exception(4, ExceptionCode.IllegalDataAddress);
    return { kind: 'registers', fc: 4, registers: this.inputRegisters().slice(address, address + quantity) };
  }

  private readHolding(address: number, quantity: number): ModbusReply {
    if (quantity < 1 || quantity > LIMITS.readRegisters) return exception(3, ExceptionCode.IllegalDataValue);
    const last = address + quantity - 1;
    if (address >= CMD_BLOCK && last <= CMD_BLOCK + 4) {
      return { kind: 'registers', fc: 3, registers: this.s.staged.slice(address - CMD_BLOCK, address - CMD_BLOCK + quantity) };
    }
    const tableEnd = PROGRAM_TABLE + 8 * this.programs.length - 1;
    if (address >= PROGRAM_TABLE && last <= tableEnd) {
      const table = this.programs.flatMap(programRegisters);
      return { kind: 'registers', fc: 3, registers: table.slice(address - PROGRAM_TABLE, address - PROGRAM_TABLE + quantity) };
    }
    return exception(3, ExceptionCode.IllegalDataAddress);
  }

  private writeHolding(fc: 6 | 16, address: number, values: number[]): ModbusReply {
    if (values.length < 1 || values.length > LIMITS.writeRegisters) return exception(fc, ExceptionCode.IllegalDataValue);
    const last = address + values.length - 1;
    if (address < CMD_BLOCK || last > CMD_BLOCK + 4) return exception(fc, ExceptionCode.IllegalDataAddress);
    if (this.t < this.busyUntil) return exception(fc, ExceptionCode.ServerDeviceBusy);
    values.forEach((v, i) => {
      this.s.staged[address - CMD_BLOCK + i] = v & 0xffff;
    });
    const reply: ModbusReply =
      fc === 6 ? { kind: 'register-written', fc: 6, address, value: values[0] ?? 0 } : { kind: 'registers-written', fc: 16, address, quantity: values.length };
    // Only one fc16 of the whole block is a command; fc06 and partial writes just stage.
    if (fc !== 16 || address !== CMD_BLOCK || values.length !== 5) return reply;
    const [seq = 0, code = 0, program = 0, amount = 0, minutes = 0] = values;
    if (seq === 0) return reply;
    if (seq === (this.pending ? this.pending.seq : this.s.lastSeq)) return reply;
    this.flushPending();
    this.pending = { seq, code, program, amount, minutes, dueAt: this.t + this.resultDelayMs };
    if (this.resultDelayMs <= 0) this.flushPending();
    return reply;
  }

  phase(): number {
    const s = this.s;
    if (s.state === Lw485State.Running || s.state === Lw485State.Paused || (s.state === Lw485State.Fault && s.faultFrom === 'cycle')) {
      return cyclePhase(s.kind, s.activeProgram, this.programs[s.activeProgram - 1], s.remainingMs, s.cycleTotalMs);
    }
    if (s.state === Lw485State.Done && s.kind === 'dryer' && s.doorClosed && s.doneMs < DRYER_ANTI_CREASE_MS) return Phase.AntiCrease;
    return Phase.None;
  }

  // ---- the panel and the room: throw SimActionError when the action has no effect ----

  pressStart(): void {
    if (this.s.state !== Lw485State.Credited) throw new SimActionError('not-possible', `Start does nothing in ${this.stateName()}`);
    if (!this.s.doorClosed) throw new SimActionError('not-possible', 'Start does nothing while the door is open');
    startCycle(this.s, this.programs);
  }

  setDoor(open: boolean): void {
    const s = this.s;
    if (open && s.doorLocked) throw new SimActionError('not-possible', 'the door is locked');
    if (open === !s.doorClosed) return;
    s.doorClosed = !open;
    // The user opening a finished machine takes the laundry out: the load cell reads empty.
    if (open && s.state === Lw485State.Done) Object.assign(s, { state: Lw485State.Idle, doneMs: 0, loadGrams: 0 });
  }

  selectProgram(program: number): void {
    if (!Number.isInteger(program) || program < 0 || program > this.programs.length) throw new SimActionError('bad-argument', `program ${program} is not 0..${this.programs.length}`);
    if (this.s.state === Lw485State.Running || this.s.state === Lw485State.Paused) throw new SimActionError('not-possible', 'the panel is locked while a cycle runs');
    this.s.selectedProgram = program;
  }

  setLoad(grams: number): void {
    if (!this.s.loadCell) throw new SimActionError('not-possible', 'no load cell fitted');
    if (!Number.isInteger(grams) || grams < 0 || grams > 655_350) throw new SimActionError('bad-argument', `load ${grams} g`);
    this.s.loadGrams = grams;
  }

  setWaterHardness(dh10: number): void {
    if (!this.s.hardnessSensor) throw new SimActionError('not-possible', 'no hardness sensor fitted');
    if (!Number.isInteger(dh10) || dh10 < 0 || dh10 > 0xfffe) throw new SimActionError('bad-argument', `hardness ${dh10}`);
    this.s.hardnessDh10 = dh10;
  }

  injectFault(code: number): void {
    const s = this.s;
    const allowed = s.kind === 'washer' ? WASHER_FAULTS : DRYER_FAULTS;
    if (!allowed.includes(code)) throw new SimActionError('bad-argument', `fault ${code} does not exist on a ${s.kind}`);
    const from = s.state === Lw485State.Idle ? 'idle' : s.state === Lw485State.Credited ? 'credited' : s.state === Lw485State.Running || s.state === Lw485State.Paused ? 'cycle' : null;
    if (from === null) throw new SimActionError('not-possible', `no fault is raised in ${this.stateName()}`);
    Object.assign(s, { state: Lw485State.Fault, faultCode: code, faultFrom: from, faultConditionActive: true });
  }

  resolveFaultCondition(): void {
    if (!this.s.faultConditionActive) throw new SimActionError('not-possible', 'no fault condition is active');
    this.s.faultConditionActive = false;
  }

  stateName(): (typeof LW485_STATE_NAMES)[number] {
    return LW485_STATE_NAMES[this.s.state] ?? 'IDLE';
  }

  snapshot(): Lw485Snapshot {
    return {
      ...this.toJSON(),
      model: this.s.kind === 'washer' ? 'lw485-washer' : 'lw485-dryer',
      stateName: this.stateName(),
      phase: this.phase(),
      remainingSec: Math.ceil(this.s.remainingMs / 1000),
      pendingSeq: this.pending ? this.pending.seq : null,
      inputRegisters: this.inputRegisters(),
      accepted: { ...this.accepted },
    };
  }
}
