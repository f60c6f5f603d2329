// The LW-485 command block's semantics (interface sheet rev 1.3, "Commands" and "States"): which
// command is allowed in which state, the result code when it is not, and what it changes. A pure
// function of the controller's non-volatile state, so the table can be read against the sheet.
import type { Lw485Kind, Lw485Program } from './lw485-programs.js';

export const Lw485State = { Idle: 0, Credited: 1, Running: 2, Paused: 3, Done: 4, Fault: 5, Service: 6 } as const;
export type Lw485StateValue = (typeof Lw485State)[keyof typeof Lw485State];
export const LW485_STATE_NAMES = ['IDLE', 'CREDITED', 'RUNNING', 'PAUSED', 'DONE', 'FAULT', 'SERVICE'] as const;

export const Lw485Command = { Credit: 1, Pause: 2, Resume: 3, Cancel: 4, AddTime: 5, Start: 6, ClearFault: 7, ServiceOn: 8, ServiceOff: 9 } as const;
export const Lw485Result = { Accepted: 1, Busy: 2, DoorOpen: 3, Fault: 4, UnknownProgram: 5, BadArgument: 6, NotAllowed: 7 } as const;

/** Everything that survives a power cut (the controller's EEPROM), as plain JSON. */
export interface Lw485Json {
  kind: Lw485Kind;
  serial: number;
  firmware: number;
  state: Lw485StateValue;
  activeProgram: number;
  selectedProgram: number;
  remainingMs: number;
  cycleTotalMs: number;
  doorClosed: boolean;
  doorLocked: boolean;
  faultCode: number;
  /** Where the fault struck: decides what CLEAR_FAULT returns to. */
  faultFrom: 'idle' | 'credited' | 'cycle' | null;
  faultConditionActive: boolean;
  creditCents: number;
  creditMinutes: number;
  cyclePaidCents: number;
  lastSeq: number;
  lastResult: number;
  cycleCounter: number;
  loadCell: boolean;
  loadGrams: number;
  hardnessSensor: boolean;
  hardnessDh10: number;
  staged: number[];
  doneMs: number;
}

export interface PendingCommand {
  seq: number;
  code: number;
  program: number;
  amount: number;
  minutes: number;
  dueAt: number;
}

export function executeCommand(s: Lw485Json, programs: readonly Lw485Program[], c: PendingCommand): number {
  const R = Lw485Result;
  const S = Lw485State;
  const state = s.state;
  const notHere = (): number => {
    if (state === S.Fault) return R.Fault;
    return R.NotAllowed;
  };
  switch (c.code) {
    case Lw485Command.Credit: {
      if (state === S.Credited || state === S.Running || state === S.Paused) return R.Busy;
      if (state !== S.Idle && state !== S.Done) return notHere();
      if (c.program < 1 || c.program > programs.length) return R.UnknownProgram;
      if (c.amount === 0) return R.BadArgument;
      if (s.kind === 'washer' ? c.minutes !== 0 : c.minutes === 0) return R.BadArgument;
      Object.assign(s, { state: S.Credited, creditCents: c.amount, activeProgram: c.program, selectedProgram: c.program, creditMinutes: c.minutes, doneMs: 0 });
      return R.Accepted;
    }
    case Lw485Command.Pause:
      if (state !== S.Running) return notHere();
      s.state = S.Paused;
      return R.Accepted;
    case Lw485Command.Resume:
      if (state !== S.Paused) return notHere();
      s.state = S.Running;
      return R.Accepted;
    case Lw485Command.Cancel:
      if (state !== S.Credited) return notHere();
      Object.assign(s, { state: S.Idle, creditCents: 0, creditMinutes: 0, activeProgram: 0 });
      return R.Accepted;
    case Lw485Command.AddTime: {
      if (s.kind !== 'dryer') return R.BadArgument;
      if (state !== S.Running && state !== S.Paused) return notHere();
      if (c.minutes === 0) return R.BadArgument;
      const remaining = s.remainingMs + c.minutes * 60_000;
      if (Math.ceil(remaining / 1000) > 0xffff) return R.BadArgument;
      s.remainingMs = remaining;
      s.cycleTotalMs += c.minutes * 60_000;
      s.cyclePaidCents += c.amount;
      return R.Accepted;
    }
    case Lw485Command.Start:
      if (state !== S.Credited) return state === S.Running || state === S.Paused ? R.Busy : notHere();
      if (!s.doorClosed) return R.DoorOpen;
      startCycle(s, programs);
      return R.Accepted;
    case Lw485Command.ClearFault: {
      if (state !== S.Fault) return R.NotAllowed;
      if (s.faultConditionActive) return R.Fault;
      const back = s.faultFrom === 'credited' ? S.Credited : S.Idle;
      Object.assign(s, { state: back, faultCode: 0, faultFrom: null });
      if (back === S.Idle) Object.assign(s, { activeProgram: 0, remainingMs: 0, cycleTotalMs: 0, doorLocked: false, cyclePaidCents: 0, creditCents: 0 });
      return R.Accepted;
    }
    case Lw485Command.ServiceOn:
      if (state === S.Credited || state === S.Running || state === S.Paused) return R.Busy;
      if (state !== S.Idle) return notHere();
      s.state = S.Service;
      return R.Accepted;
    case Lw485Command.ServiceOff:
      if (state !== S.Service) return notHere();
      s.state = S.Idle;
      return R.Accepted;
    default:
      return R.BadArgument;
  }
}

/** Start (panel or START) in CREDITED with the door closed: credit → 0, counter + 1, door locks. */
export function startCycle(s: Lw485Json, programs: readonly Lw485Program[]): void {
  const prog = programs[s.activeProgram - 1];
  const minutes = s.kind === 'dryer' ? s.creditMinutes : (prog?.durationMin ?? 0);
  const total = minutes * 60_000;
  Object.assign(s, {
    state: Lw485State.Running,
    remainingMs: total,
    cycleTotalMs: total,
    cyclePaidCents: s.creditCents,
    creditCents: 0,
    creditMinutes: 0,
    cycleCounter: (s.cycleCounter + 1) >>> 0,
    doorLocked: true,
  });
}

