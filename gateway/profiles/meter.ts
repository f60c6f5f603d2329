// CM-1 credit meter profile: discovery (model, firmware), the status poll, and the one command, a
// credit: the credit counter is read and stored as evidence (write-ahead), then one fc06 write of
// the program starts the machine. A lost write reply is never repeated: the counter tells.
import type { MachineState } from '../machines/state.js';
import type { MeterUnitConfig } from './config-schema.js';
import { isForeignDeviceAnswer, type IoFailure } from './io.js';
import { METER, METER_CAPABILITIES, checkMeterModel, decodeMeter, meterPrograms } from './meter-codec.js';
import { KeyedQueue } from './serial-queue.js';
import {
  ProfileError,
  creditOnlyCommands,
  type BlockReading,
  type BoundProfile,
  type CommandEvidence,
  type CommandOutcome,
  type CreditRequest,
  type DiscoveredUnit,
  type MachineCommands,
  type ProfileDeps,
  type UnitDriver,
} from './types.js';

class MeterDriver implements UnitDriver {
  readonly pollBlocks = [METER.statusBlock];
  private readonly commander: MachineCommands;

  constructor(
    private readonly cfg: MeterUnitConfig,
    readonly info: DiscoveredUnit,
    private readonly deps: ProfileDeps,
    /** Shared with the driver of an earlier discovery: one credit at a time, always. */
    readonly queue: KeyedQueue,
  ) {
    // The meter starts a program, whatever was paid: the amount does not reach the wire.
    this.commander = creditOnlyCommands(cfg.machineId, (r) => this.queue.run('credit', () => this.credit(r)));
  }

  decode(readings: readonly BlockReading[], observedAt: number): MachineState[] {
    const r = readings[0];
    if (r === undefined || r.kind !== 'registers') throw new ProfileError('meter poll needs the status registers');
    return [decodeMeter(this.cfg.machineId, this.cfg.kind, r.registers, observedAt)];
  }

  commands(machineId: string): MachineCommands {
    if (machineId !== this.cfg.machineId) throw new Error(`unit ${this.cfg.unit} drives ${this.cfg.machineId}, not ${machineId}`);
    return this.commander;
  }

  private async credit(req: CreditRequest): Promise<CommandOutcome> {
    if (req.program !== 1) return { status: 'rejected', reason: 'unknown_program', deviceCode: null, detail: `the meter runs program 1 only, not ${req.program}` };
    const { io, logger } = this.deps;
    const before = await io.readRegisters(3, METER.counterAddress, 1);
    // Nothing was written yet: whatever went wrong, the credit certainly did not run.
    if (!before.ok) return { status: 'rejected', reason: 'unreachable', deviceCode: null, detail: `credit counter not read: ${before.failure.detail}` };
    const evidence: CommandEvidence = { profile: 'meter', unit: this.cfg.unit, counterBefore: before.value[0] ?? 0 };
    await req.beforeSend?.(evidence);
    const w = await io.writeRegister(METER.creditAddress, req.program);
    if (w.ok) return { status: 'accepted', evidence };
    const f: IoFailure = w.failure;
    switch (f.kind) {
      case 'exception':
        return { status: 'rejected', reason: f.code === 6 ? 'busy' : 'device_exception', deviceCode: f.code, detail: `Modbus exception: ${f.detail}`, evidence };
      case 'not-sent':
        return { status: 'rejected', reason: 'unreachable', deviceCode: null, detail: f.detail, evidence };
      case 'lost':
        logger.warn({ unit: this.cfg.unit, machineId: this.cfg.machineId }, 'meter credit reply lost; the credit counter decides');
        return { status: 'unknown', detail: f.detail, evidence };
    }
  }
}

async function discover(cfg: MeterUnitConfig, deps: ProfileDeps, previous: UnitDriver | null): ReturnType<BoundProfile['discover']> {
  const io = deps.io.withPriority('probe');
  const id = await io.readRegisters(3, METER.identityBlock.address, METER.identityBlock.quantity);
  if (!id.ok) {
    if (isForeignDeviceAnswer(id.failure)) throw new ProfileError(`unit ${cfg.unit} refuses the meter identity read (${id.failure.detail}): another device at this address?`);
    return id;
  }
  const [model = 0, fw = 0] = id.value;
  checkMeterModel(model);
  const info: DiscoveredUnit = {
    unit: cfg.unit,
    profile: 'meter',
    model: 'CM-1 credit meter',
    modelCode: model,
    firmware: `${fw >> 8}.${fw & 0xff}`,
    serialNumber: null,
    capacityKg: null,
    machines: [{ machineId: cfg.machineId, name: cfg.name ?? null, kind: cfg.kind, capabilities: METER_CAPABILITIES, programs: meterPrograms(cfg) }],
    details: {},
  };
  const queue = previous instanceof MeterDriver ? previous.queue : new KeyedQueue();
  return { ok: true, driver: new MeterDriver(cfg, info, deps, queue) };
}

export const meterProfile = {
  id: 'meter',
  bind(cfg: MeterUnitConfig): BoundProfile {
    return {
      profile: 'meter',
      unit: cfg.unit,
      pollBlocks: () => [METER.statusBlock],
      configuredMachines: () => [{ machineId: cfg.machineId, kind: cfg.kind }],
      discover: (deps, previous) => discover(cfg, deps, previous),
    };
  },
} as const;
