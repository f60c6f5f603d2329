// LW-485 profile: discovery (identity, program table, last seq) and the seq command protocol.
// One fc16 write of 256-260 per command; a lost reply is repeated with the SAME seq (the device
// treats it as a no-op), then inputs 24-25 tell what happened.
import { setTimeout as sleep } from 'node:timers/promises';
import type { MachineKind, MachineState } from '../machines/state.js';
import type { Lw485UnitConfig } from './config-schema.js';
import { isForeignDeviceAnswer, type IoFailure, type UnitIo } from './io.js';
import {
  LW485,
  Lw485Command,
  capabilitiesOf,
  decodeIdentity,
  decodeProgramTable,
  decodeStatus,
  encodeCommandBlock,
  nextSeq,
  programTableBlocks,
  toMachineState,
  type Lw485CommandCode,
  type Lw485Status,
} from './lw485-codec.js';
import { Lw485Transaction } from './lw485-transaction.js';
import { KeyedQueue } from './serial-queue.js';
import {
  ProfileError,
  unsupported,
  type BlockReading,
  type BeforeSend,
  type BoundProfile,
  type CommandOutcome,
  type DiscoveredUnit,
  type MachineCommands,
  type ProfileDeps,
  type ReadBlock,
  type UnitDriver,
} from './types.js';

/**
 * What a unit's commands share across rediscoveries: the seqs spent and seen, and the queue that
 * keeps its commands one at a time. A rediscovered unit gets the same object, so a command still
 * queued on the old driver and one sent through the new never pick seqs independently.
 */
class Lw485SeqState {
  readonly queue = new KeyedQueue();
  constructor(
    public lastIssued: number,
    public deviceLast: number,
  ) {}
}

class Lw485Driver implements UnitDriver {
  readonly pollBlocks: readonly ReadBlock[] = [LW485.statusBlock];
  private lastStatus: Lw485Status | null = null;
  private readonly commander: MachineCommands;

  constructor(
    private readonly cfg: Lw485UnitConfig,
    readonly info: DiscoveredUnit,
    private readonly kind: MachineKind,
    readonly seqs: Lw485SeqState,
    private readonly deps: ProfileDeps,
  ) {
    const send = (code: Lw485CommandCode, program: number, amountCents: number, minutes: number, beforeSend?: BeforeSend): Promise<CommandOutcome> =>
      seqs.queue.run('cmd', () => this.execute(code, program, amountCents, minutes, beforeSend));
    this.commander = {
      machineId: cfg.machineId,
      credit: (r) => send(Lw485Command.CREDIT, r.program, r.amountCents, r.minutes ?? 0, r.beforeSend),
      // A free vend (an included wash, every-Nth-free) is held and captured at 0, but the LW-485
      // refuses a CREDIT of 0 as a bad argument: it is credited 1 cent, which its panel and
      // totalizer show. The ledger stays the truth.
      vendCredit: (r) => send(Lw485Command.CREDIT, r.program, r.amountCents > 0 ? r.amountCents : 1, r.minutes ?? 0, r.beforeSend),
      start: () => send(Lw485Command.START, 0, 0, 0),
      pause: () => send(Lw485Command.PAUSE, 0, 0, 0),
      resume: () => send(Lw485Command.RESUME, 0, 0, 0),
      cancel: (beforeSend) => send(Lw485Command.CANCEL, 0, 0, 0, beforeSend),
      // The sheet names only minutes and amount for ADD_TIME; the active program goes along so a
      // controller that checks the program field sees the cycle it extends.
      addTime: (r) =>
        this.kind === 'dryer' ? send(Lw485Command.ADD_TIME, this.lastStatus?.activeProgram ?? 0, r.amountCents, r.minutes, r.beforeSend) : unsupported(),
      clearFault: () => send(Lw485Command.CLEAR_FAULT, 0, 0, 0),
      serviceMode: (on) => send(on ? Lw485Command.SERVICE_ON : Lw485Command.SERVICE_OFF, 0, 0, 0),
    };
  }

  decode(readings: readonly BlockReading[], observedAt: number): MachineState[] {
    const r = readings[0];
    if (r === undefined || r.kind !== 'registers') throw new ProfileError('lw485 poll needs the status block registers');
    const s = decodeStatus(r.registers, this.kind);
    this.seqs.deviceLast = s.lastSeq;
    this.lastStatus = s;
    return [toMachineState(this.cfg.machineId, this.kind, s, observedAt)];
  }

  commands(machineId: string): MachineCommands {
    if (machineId !== this.cfg.machineId) throw new Error(`unit ${this.cfg.unit} drives ${this.cfg.machineId}, not ${machineId}`);
    return this.commander;
  }

  private async execute(code: Lw485CommandCode, program: number, amountCents: number, minutes: number, beforeSend?: BeforeSend): Promise<CommandOutcome> {
    const { io, logger, clock } = this.deps;
    const o = this.deps.options.lw485;
    const seq = nextSeq(this.seqs.lastIssued, this.seqs.deviceLast);
    let values: number[];
    try {
      values = encodeCommandBlock({ seq, code, program, amountCents, minutes });
    } catch (e) {
      return { status: 'rejected', reason: 'bad_argument', deviceCode: null, detail: e instanceof Error ? e.message : String(e) };
    }
    // From here on this seq is spent, whatever happens: it is never reused for another command.
    this.seqs.lastIssued = seq;
    const evidence = { profile: 'lw485', unit: this.cfg.unit, seq, code } as const;
    const log = logger.child({ unit: this.cfg.unit, machineId: this.cfg.machineId, seq, code });

    // Write-ahead: the caller stores the seq before the block can execute. A throw stops here.
    await beforeSend?.(evidence);
    const tx = new Lw485Transaction(evidence, o);
    for (let a = tx.start(); ; ) {
      switch (a.do) {
        case 'write':
          a = tx.onWrite(await io.writeRegisters(LW485.commandAddress, values), clock.monotonic());
          break;
        case 'read-result': {
          const { fc, address, quantity } = LW485.resultBlock;
          a = tx.onReadResult(await io.readRegisters(fc, address, quantity), clock.monotonic());
          if (tx.deviceLastSeq !== null) this.seqs.deviceLast = tx.deviceLastSeq;
          break;
        }
        case 'sleep':
          if (a.why === 'lost') log.warn('command reply lost; repeating the same seq');
          else if (a.why === 'busy') log.debug('controller busy writing its EEPROM; repeating the same seq');
          await sleep(a.ms);
          a = tx.onSlept();
          break;
        case 'done':
          if (a.outcome.status === 'unknown') log.warn({ detail: a.outcome.detail }, 'command outcome unknown');
          return a.outcome;
      }
    }
  }
}

async function discover(cfg: Lw485UnitConfig, deps: ProfileDeps, previous: UnitDriver | null): ReturnType<BoundProfile['discover']> {
  // Discovery runs behind polls and commands: a unit that is not there yet must not delay them.
  const io = deps.io.withPriority('probe');
  const fail = (failure: IoFailure): { ok: false; failure: IoFailure } => ({ ok: false, failure });
  const id = await readRegs(io, LW485.identityBlock);
  if (!id.ok) {
    if (isForeignDeviceAnswer(id.failure)) throw new ProfileError(`unit ${cfg.unit} refuses the LW-485 identity read (${id.failure.detail}): another device at this address?`);
    return fail(id.failure);
  }
  const ident = decodeIdentity(id.value);
  if (cfg.kind !== undefined && cfg.kind !== ident.kind) {
    throw new ProfileError(`unit ${cfg.unit} is configured as a ${cfg.kind} but its model register says ${ident.kind}`);
  }
  const table: number[] = [];
  for (const b of programTableBlocks(ident.programCount, deps.options.lw485.maxProgramsPerRead)) {
    const r = await readRegs(io, b);
    if (!r.ok) return fail(r.failure);
    table.push(...r.value);
  }
  const programs = decodeProgramTable(table, ident.programCount, ident.kind);
  const last = await readRegs(io, LW485.resultBlock);
  if (!last.ok) return fail(last.failure);
  const lastSeq = last.value[0] ?? 0;
  const info: DiscoveredUnit = {
    unit: cfg.unit,
    profile: 'lw485',
    model: `LW-485 ${ident.kind}`,
    modelCode: ident.modelCode,
    firmware: ident.firmware,
    serialNumber: ident.serialNumber,
    capacityKg: ident.capacityKg,
    machines: [{ machineId: cfg.machineId, name: cfg.name ?? null, kind: ident.kind, capabilities: capabilitiesOf(ident.kind), programs }],
    details: { programCount: ident.programCount, lastSeqAtDiscovery: lastSeq },
  };
  let seqs: Lw485SeqState;
  if (previous instanceof Lw485Driver) {
    // Spent seqs stay spent; the device's own last seq is the fresh one.
    seqs = previous.seqs;
    seqs.deviceLast = lastSeq;
  } else seqs = new Lw485SeqState(lastSeq, lastSeq);
  return { ok: true, driver: new Lw485Driver(cfg, info, ident.kind, seqs, deps) };
}

function readRegs(io: UnitIo, b: ReadBlock): ReturnType<UnitIo['readRegisters']> {
  if (b.fc !== 3 && b.fc !== 4) throw new ProfileError(`${b.label} is not a register block`);
  return io.readRegisters(b.fc, b.address, b.quantity);
}

export const lw485Profile = {
  id: 'lw485',
  bind(cfg: Lw485UnitConfig): BoundProfile {
    return {
      profile: 'lw485',
      unit: cfg.unit,
      pollBlocks: () => [LW485.statusBlock],
      configuredMachines: () => [{ machineId: cfg.machineId, kind: cfg.kind ?? null }],
      discover: (deps, previous) => discover(cfg, deps, previous),
    };
  },
} as const;
