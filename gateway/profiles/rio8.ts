// RIO-8 profile: one module, up to 8 coin machines. The only command is a credit: a pulse train
// the module times itself. The write goes out ONCE; when its reply is lost the pulse counter,
// never a second write, tells whether the coins went in.
import { setTimeout as sleep } from 'node:timers/promises';
import type { MachineState } from '../machines/state.js';
import type { Rio8ChannelConfig, Rio8UnitConfig } from './config-schema.js';
import type { IoResult } from './io.js';
import { RIO8, RIO8_CAPABILITIES, RIO8_POLL_BLOCKS, channelPrograms, checkModuleType, counterDelta, decodeRio8, trainDeadlineMs } from './rio8-codec.js';
import { KeyedQueue } from './serial-queue.js';
import {
  ProfileError,
  unsupported,
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

type Rejected = Extract<CommandOutcome, { status: 'rejected' }>;

class Rio8Driver implements UnitDriver {
  readonly pollBlocks = RIO8_POLL_BLOCKS;
  private readonly queue = new KeyedQueue();
  private readonly commanders = new Map<string, MachineCommands>();

  constructor(
    private readonly cfg: Rio8UnitConfig,
    readonly info: DiscoveredUnit,
    private readonly pulseOnMs: number,
    private readonly pulseOffMs: number,
    private readonly deps: ProfileDeps,
  ) {
    for (const ch of cfg.channels) {
      this.commanders.set(ch.machineId, {
        machineId: ch.machineId,
        credit: (r) => this.queue.run(String(ch.channel), () => this.credit(ch, r)),
        start: unsupported,
        pause: unsupported,
        resume: unsupported,
        cancel: unsupported,
        addTime: unsupported,
      });
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
    const before = await this.preflight(n);
    if ('status' in before) return before;
    const evidence: CommandEvidence = { profile: 'rio8', unit: this.cfg.unit, channel: n, counterBefore: before.counter, coins };

    const w = await this.deps.io.writeRegister(RIO8.trainAddress + n, coins);
    if (!w.ok) {
      const f = w.failure;
      if (f.kind === 'exception') {
        return { status: 'rejected', reason: f.code === 6 ? 'busy' : 'device_exception', deviceCode: f.code, detail: `Modbus exception: ${f.detail}`, evidence };
      }
      if (f.kind === 'not-sent') return { status: 'rejected', reason: 'unreachable', deviceCode: null, detail: f.detail, evidence };
      // Lost reply: the write may have started the train. Never write again: look at the counter.
      log.warn({ detail: f.detail }, 'pulse-train write reply lost; reading the counter instead of writing again');
      await sleep(this.deps.options.rio8.lostReplySettleMs);
      const counter = await this.readWithRetry(RIO8.counterAddress + n);
      const pending = await this.readWithRetry(RIO8.trainAddress + n);
      if (!counter.ok || !pending.ok) {
        return { status: 'unknown', detail: `write reply lost (${f.detail}) and the read-back failed`, evidence };
      }
      if (counterDelta(before.counter, counter.value) === 0 && pending.value === 0) {
        return { status: 'rejected', reason: 'not_executed', deviceCode: null, detail: `write reply lost (${f.detail}); counter unchanged and nothing pending: the train never started`, evidence };
      }
    }
    return this.awaitTrain(evidence, log);
  }

  /** Before writing: the machine must not be in use, no train may be running, and the counter must be known. */
  private async preflight(n: number): Promise<Rejected | { counter: number }> {
    const io = this.deps.io;
    const unreachable = (detail: string): Rejected => ({ status: 'rejected', reason: 'unreachable', deviceCode: null, detail: `nothing written: ${detail}` });
    const inUse = await io.readBits(2, n, 1);
    if (!inUse.ok) return unreachable(inUse.failure.detail);
    if (inUse.value[0] === true) return { status: 'rejected', reason: 'in_use', deviceCode: null, detail: `input ${n} shows the machine in use; coins would be lost` };
    const pending = await this.readOne(RIO8.trainAddress + n);
    if (!pending.ok) return unreachable(pending.failure.detail);
    if (pending.value > 0) return { status: 'rejected', reason: 'busy', deviceCode: null, detail: `a train of ${pending.value} pulses is still running on relay ${n}` };
    const counter = await this.readOne(RIO8.counterAddress + n);
    if (!counter.ok) return unreachable(counter.failure.detail);
    return { counter: counter.value };
  }

  private async readWithRetry(address: number): Promise<IoResult<number>> {
    const o = this.deps.options.rio8;
    let r = await this.readOne(address);
    for (let i = 1; i < o.readbackAttempts && !r.ok; i++) {
      await sleep(o.readbackDelayMs);
      r = await this.readOne(address);
    }
    return r;
  }

  /** The train started: wait until the counter shows every pulse. */
  private async awaitTrain(evidence: Extract<CommandEvidence, { profile: 'rio8' }>, log: ProfileDeps['logger']): Promise<CommandOutcome> {
    const o = this.deps.options.rio8;
    const { clock } = this.deps;
    const budget = trainDeadlineMs(evidence.coins, this.pulseOnMs, this.pulseOffMs, o.pulseTimeFactor, o.pulseMarginMs);
    const until = clock.monotonic() + budget;
    const maxReads = Math.ceil(budget / o.pulseCheckIntervalMs) + 1;
    let sent: number | null = null;
    for (let i = 0; i < maxReads; i++) {
      const c = await this.readOne(RIO8.counterAddress + evidence.channel);
      if (c.ok) {
        sent = counterDelta(evidence.counterBefore, c.value);
        if (sent >= evidence.coins) {
          if (sent > evidence.coins) log.warn({ sent }, 'counter advanced by more pulses than this credit sent');
          return { status: 'accepted', evidence };
        }
      }
      if (clock.monotonic() >= until) break;
      await sleep(o.pulseCheckIntervalMs);
    }
    const detail = sent === null ? `the train started but the counter could not be read within ${budget} ms` : `only ${sent} of ${evidence.coins} pulses counted within ${budget} ms`;
    log.warn({ detail }, 'credit outcome unknown');
    return { status: 'unknown', detail, evidence };
  }
}

async function discover(cfg: Rio8UnitConfig, deps: ProfileDeps): ReturnType<BoundProfile['discover']> {
  // Discovery runs behind polls and commands: a unit that is not there yet must not delay them.
  const io = deps.io.withPriority('probe');
  const id = await io.readRegisters(3, RIO8.identityBlock.address, RIO8.identityBlock.quantity);
  if (!id.ok) return id;
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
  return { ok: true, driver: new Rio8Driver(cfg, info, onMs, offMs, deps) };
}

export const rio8Profile = {
  id: 'rio8',
  bind(cfg: Rio8UnitConfig): BoundProfile {
    return {
      profile: 'rio8',
      unit: cfg.unit,
      pollBlocks: () => [...RIO8_POLL_BLOCKS],
      configuredMachines: () => cfg.channels.map((c) => ({ machineId: c.machineId, kind: c.kind })),
      // Nothing to carry over: the pulse counters are read fresh before every credit.
      discover: (deps) => discover(cfg, deps),
    };
  },
} as const;
