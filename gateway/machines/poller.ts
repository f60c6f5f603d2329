// The bus poller: discovers every configured unit (retrying those not there yet), then polls all
// of them each cycle, one cycle after another, and keeps the latest normalized state of every
// machine. Device knowledge lives in the profiles; this file only schedules, decodes through them
// and decides what is a change and what is offline.
import { EventEmitter } from 'node:events';
import type { Logger } from '../core/log.js';
import type { UnitConfig } from '../profiles/config-schema.js';
import { UnitIo } from '../profiles/io.js';
import { profileOptions, type ProfileOptions } from '../profiles/options.js';
import { bindProfile } from '../profiles/registry.js';
import { ProfileError, blankState, type BlockReading, type BoundProfile, type CommandOutcome, type DiscoveredUnit, type MachineCommands, type UnitDriver } from '../profiles/types.js';
import { stateChanges } from './change.js';
import { pollerTuningSchema, type PlannedBlock, type PollerEvents, type PollerOptions, type ReadNowResult } from './poller-types.js';
import type { MachineKind, MachineState, ProgramInfo } from './state.js';

export * from './poller-types.js';

interface UnitRuntime {
  cfg: UnitConfig;
  bound: BoundProfile;
  io: UnitIo;
  /** The same unit at poll priority, made once: every cycle reads through it. */
  pollIo: UnitIo;
  driver: UnitDriver | null;
  /** Back from offline: read identity and tables again (the controller may have been swapped). */
  rediscover: boolean;
  discovering: Promise<null | { detail: string; breakerOpen: boolean }> | null;
  failedCycles: number;
  offline: boolean;
  nextDiscoveryAt: number;
  lastProblem: string | null;
  /** Reads are numbered when they start so a slow one never overwrites a fresher result. */
  readsStarted: number;
  readApplied: number;
}

export class Poller extends EventEmitter<PollerEvents> {
  private readonly units: UnitRuntime[];
  private readonly unitByMachine = new Map<string, UnitRuntime>();
  private readonly latest = new Map<string, MachineState>();
  private readonly options: ProfileOptions;
  private readonly intervalMs: number;
  private readonly offlineAfter: number;
  private readonly discoveryRetryMs: number;
  private readonly log: Logger;
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private cycleNo = 0;
  /** Bumped by each start(): a loop from an earlier start() ends instead of running alongside. */
  private generation = 0;

  constructor(private readonly opts: PollerOptions) {
    super();
    this.options = profileOptions(opts.profiles);
    const tuning = pollerTuningSchema.parse({
      intervalMs: opts.intervalMs,
      offlineAfterFailedCycles: opts.offlineAfterFailedCycles,
      discoveryRetryMs: opts.discoveryRetryMs,
    });
    this.intervalMs = tuning.intervalMs;
    this.offlineAfter = tuning.offlineAfterFailedCycles;
    this.discoveryRetryMs = tuning.discoveryRetryMs;
    this.log = opts.logger.child({ feature: 'poller', bus: opts.bus.busId });
    this.units = opts.units.map((cfg) => {
      const bound = bindProfile(cfg);
      const io = new UnitIo(opts.bus, cfg.unit, 'command');
      const rt: UnitRuntime = {
        cfg,
        bound,
        io,
        pollIo: io.withPriority('poll'),
        driver: null,
        rediscover: false,
        discovering: null,
        failedCycles: 0,
        offline: false,
        nextDiscoveryAt: 0,
        lastProblem: null,
        readsStarted: 0,
        readApplied: 0,
      };
      for (const m of bound.configuredMachines()) {
        if (this.unitByMachine.has(m.machineId)) throw new Error(`machine ${m.machineId} is configured twice`);
        this.unitByMachine.set(m.machineId, rt);
      }
      return rt;
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const gen = ++this.generation;
    // A loop still finishing a cycle after stop() ends first: cycles never overlap.
    const previous = this.loopDone ?? Promise.resolve();
    this.loopDone = previous.then(() => this.loop(gen));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    const done = this.loopDone;
    await done;
    if (this.loopDone === done) this.loopDone = null;
  }

  hasMachine(machineId: string): boolean {
    return this.unitByMachine.has(machineId);
  }

  /** Every configured machine on this bus, discovered or not. */
  machineIds(): string[] {
    return [...this.unitByMachine.keys()];
  }

  states(): MachineState[] {
    return [...this.latest.values()];
  }

  state(machineId: string): MachineState | null {
    return this.latest.get(machineId) ?? null;
  }

  /** Units discovered so far, with their program tables. */
  discoveredUnits(): DiscoveredUnit[] {
    return this.units.flatMap((u) => (u.driver === null ? [] : [u.driver.info]));
  }

  programs(machineId: string): ProgramInfo[] {
    const u = this.unitFor(machineId);
    return u.driver?.info.machines.find((m) => m.machineId === machineId)?.programs ?? [];
  }

  /** Every unit's poll reads, known from config alone (before discovery). */
  planBlocks(): PlannedBlock[] {
    return this.units.flatMap((u) => u.bound.pollBlocks().map((b) => ({ ...b, unit: u.cfg.unit })));
  }

  /**
   * The command object of a machine. Resolved at each call, so it can be taken before the unit is
   * discovered: until then every command is rejected 'unreachable' without touching the bus.
   */
  commander(machineId: string): MachineCommands {
    const u = this.unitFor(machineId);
    const via = (f: (c: MachineCommands) => Promise<CommandOutcome>): Promise<CommandOutcome> => {
      const d = u.driver;
      if (d === null) return Promise.resolve({ status: 'rejected', reason: 'unreachable', deviceCode: null, detail: `unit ${u.cfg.unit} has not been discovered yet` });
      return f(d.commands(machineId));
    };
    return {
      machineId,
      credit: (r) => via((c) => c.credit(r)),
      vendCredit: (r) => via((c) => c.vendCredit(r)),
      start: () => via((c) => c.start()),
      pause: () => via((c) => c.pause()),
      resume: () => via((c) => c.resume()),
      cancel: (beforeSend) => via((c) => c.cancel(beforeSend)),
      addTime: (r) => via((c) => c.addTime(r)),
      clearFault: () => via((c) => c.clearFault()),
      serviceMode: (on) => via((c) => c.serviceMode(on)),
    };
  }

  /**
   * A fresh read of the machine's unit, ahead of polls: the vend engine's read-back. A unit not
   * discovered yet is discovered first, so a start-up reconcile need not wait for the loop.
   */
  async readNow(machineId: string): Promise<ReadNowResult> {
    const u = this.unitFor(machineId);
    if (u.driver === null) {
      const failed = await this.discoverNow(u);
      if (failed !== null) return { ok: false, detail: `unit ${u.cfg.unit} not discovered: ${failed.detail}` };
    }
    const d = u.driver;
    if (d === null) return { ok: false, detail: `unit ${u.cfg.unit} has not been discovered yet` };
    const r = await this.readUnit(u, d, u.io);
    if (!r.ok) return { ok: false, detail: r.detail };
    const s = r.states.find((x) => x.machineId === machineId);
    return s === undefined ? { ok: false, detail: `unit ${u.cfg.unit} reported no state for ${machineId}` } : { ok: true, state: s };
  }

  private unitFor(machineId: string): UnitRuntime {
    const u = this.unitByMachine.get(machineId);
    if (u === undefined) throw new Error(`no machine ${machineId} is configured on bus ${this.opts.bus.busId}`);
    return u;
  }

  private async loop(gen: number): Promise<void> {
    const { clock } = this.opts;
    const live = (): boolean => this.running && gen === this.generation;
    try {
      while (live()) {
        const t0 = clock.monotonic();
        // Every unit's reads are queued at once; the bus master serializes them on the wire.
        const ok = await Promise.all(this.units.map((u) => this.cycleUnit(u)));
        if (!live()) break;
        const durationMs = clock.monotonic() - t0;
        this.cycleNo++;
        this.emit('cycle', { cycle: this.cycleNo, durationMs, failedUnits: this.units.filter((_, i) => ok[i] !== true).map((u) => u.cfg.unit) });
        this.emit('tick', {
          at: clock.now(),
          machines: this.states().map((s) => ({ machineId: s.machineId, status: s.status, remainingSec: s.remainingSec })),
        });
        await this.pause(Math.max(0, this.intervalMs - durationMs));
      }
    } catch (e) {
      // A throwing listener or a bug: never carry on silently with stale machine states.
      if (gen === this.generation) this.running = false;
      const err = e instanceof Error ? e : new Error(String(e));
      this.log.fatal({ err }, 'poll loop stopped');
      this.emit('error', err);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  /** One cycle's work for a unit; true when it answered. */
  private async cycleUnit(u: UnitRuntime): Promise<boolean> {
    if (u.driver === null || u.rediscover) {
      const found = await this.tryDiscover(u);
      if (found === 'later') {
        this.failed(u, false, u.lastProblem ?? 'not discovered yet');
        return false;
      }
      if (found !== null) {
        this.failed(u, found.breakerOpen, found.detail);
        return false;
      }
    }
    const d = u.driver;
    if (d === null) return false;
    const r = await this.readUnit(u, d, u.pollIo);
    if (!r.ok) {
      this.failed(u, r.breakerOpen, r.detail);
      return false;
    }
    return true;
  }

  /** null when discovered now; 'later' when not yet due; else why it failed. */
  private async tryDiscover(u: UnitRuntime): Promise<null | 'later' | { detail: string; breakerOpen: boolean }> {
    const now = this.opts.clock.monotonic();
    if (now < u.nextDiscoveryAt) return 'later';
    u.nextDiscoveryAt = now + this.discoveryRetryMs;
    return this.discoverNow(u);
  }

  /** One discovery at a time per unit: the loop and readNow may both want one. */
  private discoverNow(u: UnitRuntime): Promise<null | { detail: string; breakerOpen: boolean }> {
    if (u.discovering === null) {
      u.discovering = this.runDiscovery(u).finally(() => {
        u.discovering = null;
      });
    }
    return u.discovering;
  }

  private async runDiscovery(u: UnitRuntime): Promise<null | { detail: string; breakerOpen: boolean }> {
    const log = this.log.child({ unit: u.cfg.unit, profile: u.cfg.profile });
    try {
      const r = await u.bound.discover({ io: u.io, logger: log, clock: this.opts.clock, options: this.options }, u.driver);
      if (!r.ok) {
        const f = r.failure;
        if (u.lastProblem !== f.detail) log.warn({ detail: f.detail }, 'unit not discovered; will retry');
        u.lastProblem = f.detail;
        return { detail: f.detail, breakerOpen: f.kind === 'not-sent' && f.breakerOpen };
      }
      u.driver = r.driver;
      u.rediscover = false;
      u.lastProblem = null;
      log.info({ model: r.driver.info.model, firmware: r.driver.info.firmware, machines: r.driver.info.machines.map((m) => m.machineId) }, 'unit discovered');
      this.emit('discovered', r.driver.info);
      return null;
    } catch (e) {
      if (!(e instanceof ProfileError)) throw e;
      // A wrong device at this address: say so loudly, keep the machines offline, look again later.
      if (u.lastProblem !== e.message) log.error({ detail: e.message }, 'unit is not the configured device');
      u.lastProblem = e.message;
      // Whatever was discovered before is not what answers now: no command may go to it.
      u.driver = null;
      return { detail: e.message, breakerOpen: false };
    }
  }

  private async readUnit(
    u: UnitRuntime,
    d: UnitDriver,
    io: UnitIo,
  ): Promise<{ ok: true; states: MachineState[] } | { ok: false; detail: string; breakerOpen: boolean }> {
    const ticket = ++u.readsStarted;
    const readings: BlockReading[] = [];
    for (const b of d.pollBlocks) {
      const r = await io.readBlock(b);
      if (!r.ok) {
        const f = r.failure;
        return { ok: false, detail: `${b.label}: ${f.detail}`, breakerOpen: f.kind === 'not-sent' && f.breakerOpen };
      }
      readings.push(r.value);
    }
    let states: MachineState[];
    try {
      states = d.decode(readings, this.opts.clock.now());
    } catch (e) {
      if (!(e instanceof ProfileError)) throw e;
      this.log.warn({ unit: u.cfg.unit, detail: e.message }, 'unit sent data its profile cannot decode');
      return { ok: false, detail: e.message, breakerOpen: false };
    }
    if (ticket > u.readApplied) {
      u.readApplied = ticket;
      this.answered(u, states);
    }
    return { ok: true, states };
  }

  private answered(u: UnitRuntime, states: MachineState[]): void {
    if (u.offline) this.log.info({ unit: u.cfg.unit }, 'unit answers again');
    u.failedCycles = 0;
    u.offline = false;
    for (const s of states) this.put(s);
  }

  private failed(u: UnitRuntime, breakerOpen: boolean, detail: string): void {
    u.failedCycles++;
    if (u.offline || (!breakerOpen && u.failedCycles < this.offlineAfter)) return;
    u.offline = true;
    if (u.driver !== null) {
      u.rediscover = true;
      u.nextDiscoveryAt = 0;
    }
    this.log.warn({ unit: u.cfg.unit, failedCycles: u.failedCycles, breakerOpen, detail }, 'unit offline');
    const kinds = new Map<string, MachineKind | null>(u.bound.configuredMachines().map((m) => [m.machineId, m.kind]));
    for (const m of u.driver?.info.machines ?? []) kinds.set(m.machineId, m.kind);
    for (const [machineId, kind] of kinds) {
      const prev = this.latest.get(machineId);
      // Everything else is kept: the last known program, credit and counters stay useful.
      if (prev !== undefined) this.put({ ...prev, status: 'offline' });
      else if (kind !== null) this.put(blankState(machineId, kind, this.opts.clock.now()));
    }
  }

  private put(s: MachineState): void {
    const previous = this.latest.get(s.machineId) ?? null;
    this.latest.set(s.machineId, s);
    const changed = stateChanges(previous, s);
    if (changed.length > 0) this.emit('state', { state: s, previous, changed });
  }
}
