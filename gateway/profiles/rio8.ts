// RIO-8 profile: one module, up to 8 coin machines. The only command is a credit: a pulse train
// the module times itself. The write goes out ONCE; when its reply is lost the pulse counter,
// never a second write, tells whether the coins went in.
import { setTimeout as sleep } from 'node:timers/promises';
import type { MachineState } from '../machines/state.js';
import type { Rio8ChannelConfig, Rio8UnitConfig } from './config-schema.js';
import { isForeignDeviceAnswer, type IoResult } from './io.js';
import { RIO8, RIO8_CAPABILITIES, RIO8_POLL_BLOCKS, channelPrograms, checkModuleType, decodeRio8 } from './rio8-codec.js';
import { Rio8Credit } from './rio8-transaction.js';
import { KeyedQueue } from './serial-queue.js';
import {
  ProfileError,
  creditOnlyCommands,
  type BlockReading,
  type BoundProfile,
  type CommandOutcome,
  type CreditRequest,
  type DiscoveredUnit,
  type MachineCommands,
  type ProfileDeps,
  type UnitDriver,
} from './types.js';

class Rio8Driver implements UnitDriver {
  readonly pollBlocks = RIO8_POLL_BLOCKS;
  private readonly commanders = new Map<string, MachineCommands>();

  constructor(
    private readonly cfg: Rio8UnitConfig,
    readonly info: DiscoveredUnit,
    private readonly pulseOnMs: number,
    private readonly pulseOffMs: number,
    private readonly deps: ProfileDeps,
    /** Shared with the driver of an earlier discovery: one credit at a time per channel, always. */
    readonly queue: KeyedQueue,
  ) {
    for (const ch of cfg.channels) {
      // Pulses by program: the amount does not reach the wire.
      this.commanders.set(ch.machineId, creditOnlyCommands(ch.machineId, (r) => this.queue.run(String(ch.channel), () => this.credit(ch, r))));
    }
  }

  decode(readings: readonly BlockReading[], observedAt: number): MachineState[] {
    const [inUse, pending, counters] = readings;
    if (inUse?.kind !== 'bits' || pending?.kind !== 'registers' || counters?.kind !== 'registers') {
      throw new ProfileError('rio8 poll needs the in-use bits, pending and counter registers, in that order');
    }
    return decodeRio8(this.cfg.channels, { inUse: inUse.bits, pending: pending.registers, counters: counters.registers }, observedAt);
  }

  commands(machineId: string): MachineCommands {
    const c = this.commanders.get(machineId);
    if (c === undefined) throw new Error(`RIO-8 unit ${this.cfg.unit} has no channel for machine ${machineId}`);
    return c;
  }

  private async readOne(address: number): Promise<IoResult<number>> {
    const r = await this.deps.io.readRegisters(3, address, 1);
    return r.ok ? { ok: true, value: r.value[0] ?? 0 } : r;
  }

  private async credit(ch: Rio8ChannelConfig, req: CreditRequest): Promise<CommandOutcome> {
    const n = ch.channel;
    const coins = ch.coinsPerProgram[String(req.program)];
    if (coins === undefined) {
      return { status: 'rejected', reason: 'unknown_program', deviceCode: null, detail: `machine ${ch.machineId} has no program ${req.program} in the config` };
    }
    const log = this.deps.logger.child({ unit: this.cfg.unit, channel: n, machineId: ch.machineId, coins });
    const { io, clock } = this.deps;
    const tx = new Rio8Credit({ unit: this.cfg.unit, channel: n, coins, pulseOnMs: this.pulseOnMs, pulseOffMs: this.pulseOffMs }, this.deps.options.rio8);
    for (let a = tx.start(); ; ) {
      switch (a.do) {
        case 'read-in-use': {
          const r = await io.readBits(2, n, 1);
          a = tx.onInUse(r.ok ? { ok: true, value: r.value[0] === true } : r);
          break;
        }
        case 'read-pending':
          a = tx.onPending(await this.readOne(RIO8.trainAddress + n), clock.monotonic());
          break;
        case 'read-counter':
          a = tx.onCounter(await this.readOne(RIO8.counterAddress + n), clock.monotonic());
          break;
        case 'read-pulse-times':
          a = tx.onPulseTimes(await io.readRegisters(3, RIO8.pulseTimeBlock.address, RIO8.pulseTimeBlock.quantity));
          break;
        case 'write': {
          // Write-ahead: the caller stores the counter reading before the train can start.
          const ev = tx.currentEvidence;
          if (ev === null) throw new Error('RIO-8 credit reached its write without a counter reading');
          await req.beforeSend?.(ev);
          a = tx.onWrite(await io.writeRegister(RIO8.trainAddress + n, a.coins), clock.monotonic());
          break;
        }
        case 'sleep':
          if (a.why === 'settle') log.warn('pulse-train write reply lost; reading the counter instead of writing again');
          await sleep(a.ms);
          a = tx.onSlept();
          break;
        case 'done':
          if (a.outcome.status === 'unknown') log.warn({ detail: a.outcome.detail }, 'credit outcome unknown');
          return a.outcome;
      }
    }
  }
}

async function discover(cfg: Rio8UnitConfig, deps: ProfileDeps, previous: UnitDriver | null): ReturnType<BoundProfile['discover']> {
  // Discovery runs behind polls and commands: a unit that is not there yet must not delay them.
  const io = deps.io.withPriority('probe');
  const id = await io.readRegisters(3, RIO8.identityBlock.address, RIO8.identityBlock.quantity);
  if (!id.ok) {
    if (isForeignDeviceAnswer(id.failure)) throw new ProfileError(`unit ${cfg.unit} refuses the RIO-8 identity read (${id.failure.detail}): another device at this address?`);
    return id;
  }
  const [type = 0, fw = 0] = id.value;
  checkModuleType(type);
  const times = await io.readRegisters(3, RIO8.pulseTimeBlock.address, RIO8.pulseTimeBlock.quantity);
  if (!times.ok) return times;
  const [onMs = 0, offMs = 0] = times.value;
  const info: DiscoveredUnit = {
    unit: cfg.unit,
    profile: 'rio8',
    model: 'RIO-8 coin retrofit',
    modelCode: type,
    firmware: `${fw >> 8}.${fw & 0xff}`,
    serialNumber: null,
    capacityKg: null,
    machines: cfg.channels.map((ch) => ({
      machineId: ch.machineId,
      name: ch.name ?? null,
      kind: ch.kind,
      capabilities: RIO8_CAPABILITIES,
      programs: channelPrograms(ch),
    })),
    details: { pulseOnMs: onMs, pulseOffMs: offMs },
  };
  const queue = previous instanceof Rio8Driver ? previous.queue : new KeyedQueue();
  return { ok: true, driver: new Rio8Driver(cfg, info, onMs, offMs, deps, queue) };
}

export const rio8Profile = {
  id: 'rio8',
  bind(cfg: Rio8UnitConfig): BoundProfile {
    return {
      profile: 'rio8',
      unit: cfg.unit,
      pollBlocks: () => [...RIO8_POLL_BLOCKS],
      configuredMachines: () => cfg.channels.map((c) => ({ machineId: c.machineId, kind: c.kind })),
      // Only the queue carries over: the pulse counters are read fresh before every credit.
      discover: (deps, previous) => discover(cfg, deps, previous),
    };
  },
} as const;
