// The simulated laundry room: device models on one or more buses (serial ports, TCP listeners),
// one clock that moves them all, wire faults injected per unit, and the EEPROM of every unit in
// one JSON file so a power cut (or a restart of the simulator) comes back in the state it had.
import { decodeRequestPdu, encodeReplyPdu, type ModbusReply, type ModbusRequest } from '../protocols/modbus/pdu.js';
import type { LineFormat } from '../protocols/modbus/timing.js';
import { silentLogger, type Logger } from '../gateway/core/log.js';
import { systemClock, type Clock } from '../gateway/core/clock.js';
import type { SimUnitConfig } from './config.js';
import { Lw485 } from './lw485.js';
import { Rio8 } from './rio8.js';
import { readStateFile, writeStateFile, type StateFile } from './state-file.js';
import type { ReplyPlan, SlaveTarget } from './rtu-slave.js';
import { listenTcp, type TcpEndpoint } from './tcp-server.js';
import { SerialLine, type SerialAttachOptions } from './serial-line.js';
import { SimControl, type RoomAccess, type SimDevice, type WireFaults } from './control.js';

export interface SimRoomOptions {
  units: SimUnitConfig[];
  /** Sim seconds per real second. */
  timeScale?: number;
  /** JSON persisted on change, restored on start: power-cut persistence. */
  statePath?: string;
  logger?: Logger;
  /** Device turnaround, real ms. */
  replyDelayMs?: number;
  /** Write each reply only after its time on the wire at this line format (benchmarks). */
  paceBaud?: LineFormat;
  /** Real ms before an LW-485 command's result shows in inputs 24/25 (spec: within 200 ms). */
  commandResultDelayMs?: number;
  /** Real ms an LW-485 EEPROM stays busy (exception 06 on writes) after each accepted command; default 0. */
  eepromWriteMs?: number;
  clock?: Clock;
  /** Real ms between time ticks. */
  tickMs?: number;
}


const TICK_MS = 50;
/** Only the countdown changed: write the file at most this often (real ms). */
const COUNTDOWN_SAVE_MS = 1000;

function withoutCountdown(key: string, value: unknown): unknown {
  return key === 'remainingMs' || key === 'doneMs' ? undefined : value;
}

export class SimRoom implements SlaveTarget {
  readonly control: SimControl;
  private readonly devices = new Map<number, SimDevice>();
  private readonly faults = new Map<number, WireFaults>();
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly timeScale: number;
  private readonly replyDelayMs: number;
  private readonly resultDelayMs: number;
  private readonly endpoints: Array<{ close(): Promise<void> }> = [];
  private tick: NodeJS.Timeout | null = null;
  private lastReal: number | null = null;
  private savedFull = '';
  private savedDiscrete = '';
  private savedAt = 0;

  constructor(private readonly opts: SimRoomOptions) {
    this.logger = opts.logger ?? silentLogger();
    this.clock = opts.clock ?? systemClock;
    this.timeScale = opts.timeScale ?? 1;
    this.replyDelayMs = opts.replyDelayMs ?? 5;
    this.resultDelayMs = (opts.commandResultDelayMs ?? 30) * this.timeScale;
    for (const u of opts.units) this.faults.set(u.unit, { offline: false, drop: 0, corrupt: 0, delay: [], garbage: [] });
    this.build(this.readStateFile());
    const access: RoomAccess = {
      device: (unit) => this.devices.get(unit),
      faults: (unit) => this.faults.get(unit),
      sync: () => this.sync(),
      changed: () => this.persist(true),
      powerCycle: () => this.powerCycle(),
      reset: () => this.reset(),
      units: () => [...this.devices.keys()].sort((a, b) => a - b),
      realToSim: (ms) => ms * this.timeScale,
    };
    this.control = new SimControl(access);
  }

  private build(saved: StateFile | null): void {
    this.devices.clear();
    for (const u of this.opts.units) {
      const entry = saved?.units[String(u.unit)];
      if (u.model === 'rio8') {
        const rio = entry?.model === 'rio8' ? entry.state : undefined;
        this.devices.set(u.unit, new Rio8({ channels: u.channels, pulseScale: this.timeScale, ...(u.pulseCounterStart !== undefined ? { pulseCounterStart: u.pulseCounterStart } : {}) }, rio));
      } else {
        const lw = entry && entry.model !== 'rio8' && entry.model === u.model ? entry.state : undefined;
        const kind = u.model === 'lw485-washer' ? 'washer' : 'dryer';
        const opts = {
          kind,
          serial: u.serial ?? (kind === 'washer' ? 20_250_000 : 20_251_000) + u.unit,
          loadCell: u.loadCell ?? false,
          hardnessSensor: u.hardnessSensor ?? false,
          hardnessDh10: 80 + ((u.unit * 17) % 120),
          resultDelayMs: this.resultDelayMs,
          eepromWriteMs: (this.opts.eepromWriteMs ?? 0) * this.timeScale,
        } as const;
        this.devices.set(u.unit, new Lw485(opts, lw));
      }
    }
  }

  private readStateFile(): StateFile | null {
    return this.opts.statePath ? readStateFile(this.opts.statePath, this.logger) : null;
  }

  /** Starts the time tick. */
  start(): void {
    if (this.tick) return;
    this.lastReal = this.clock.monotonic();
    this.tick = setInterval(() => {
      this.sync();
      this.persist(false);
    }, this.opts.tickMs ?? TICK_MS);
  }

  /** Brings every device up to the current sim time. */
  private sync(): void {
    if (this.lastReal === null) return;
    const now = this.clock.monotonic();
    const simMs = (now - this.lastReal) * this.timeScale;
    this.lastReal = now;
    if (simMs > 0) for (const d of this.devices.values()) d.advance(simMs);
  }

  /** Moves sim time by hand (tests without real time). */
  advance(simMs: number): void {
    this.sync();
    for (const d of this.devices.values()) d.advance(simMs);
    this.persist(false);
  }

  /** In-process access, no wire; null = silent (unknown unit / offline). */
  handleRequest(unit: number, req: ModbusRequest): ModbusReply | null {
    const d = this.devices.get(unit);
    if (!d || this.faults.get(unit)?.offline) return null;
    this.sync();
    const reply = d.handle(req);
    // What a master has seen must survive a power cut (the LW-485 keeps its credit; spec): a
    // command that took effect during this request's catch-up is written before the reply leaves.
    this.persist(req.fc === 5 || req.fc === 6 || req.fc === 16);
    return reply;
  }

  serve(unit: number, pdu: Buffer): ReplyPlan | null {
    const f = this.faults.get(unit);
    if (!f) return null;
    const decoded = decodeRequestPdu(pdu);
    let reply: ModbusReply | null;
    if (decoded.ok) reply = this.handleRequest(unit, decoded.request);
    else reply = f.offline ? null : { kind: 'exception', fc: decoded.fc & 0x7f, code: decoded.exception };
    if (!reply) return null;
    if (f.drop > 0) {
      f.drop -= 1;
      return null;
    }
    let delayMs = this.replyDelayMs;
    const late = f.delay[0];
    if (late) {
      delayMs += late.ms;
      late.n -= 1;
      if (late.n <= 0) f.delay.shift();
    }
    const corrupt = f.corrupt > 0;
    if (corrupt) f.corrupt -= 1;
    const garbage = f.garbage.shift() ?? null;
    return { pdu: encodeReplyPdu(reply), delayMs, corrupt, garbage };
  }

  listenTcp(o: { host?: string; port: number; framing: 'rtu' | 'mbap' }): Promise<{ port: number }> {
    return listenTcp(this, o, this.logger, this.opts.paceBaud).then((ep: TcpEndpoint) => {
      this.endpoints.push(ep);
      return { port: ep.port };
    });
  }

  async attachSerial(o: SerialAttachOptions): Promise<void> {
    const line = new SerialLine(this, o, this.logger.child({ path: o.path }), this.opts.paceBaud);
    this.endpoints.push(line);
    await line.start();
  }

  private stateFile(): StateFile {
    const units: StateFile['units'] = {};
    for (const u of this.opts.units) {
      const d = this.devices.get(u.unit);
      if (d instanceof Rio8) units[String(u.unit)] = { model: 'rio8', state: d.toJSON() };
      else if (d instanceof Lw485 && u.model !== 'rio8') units[String(u.unit)] = { model: u.model, state: d.toJSON() };
    }
    return { version: 1, units };
  }

  /** Writes the state file when something changed; a countdown alone is written at most once a second. */
  private persist(force: boolean): void {
    const path = this.opts.statePath;
    if (!path) return;
    const file = this.stateFile();
    const full = JSON.stringify(file);
    if (full === this.savedFull) return;
    const discrete = JSON.stringify(file, withoutCountdown);
    const now = this.clock.monotonic();
    if (!force && discrete === this.savedDiscrete && now - this.savedAt < COUNTDOWN_SAVE_MS) return;
    try {
      writeStateFile(path, full);
      this.savedFull = full;
      this.savedDiscrete = discrete;
      this.savedAt = now;
    } catch (err) {
      this.logger.error({ err, path }, 'cannot write the simulator state file');
    }
  }

  /**
   * Power cut and back: every unit restarts from what the state file holds (from memory when
   * there is no file). Commands not yet executed are lost; RIO-8 modules restart from defaults.
   */
  powerCycle(): void {
    this.sync();
    const saved = this.opts.statePath ? this.readStateFile() : this.stateFile();
    this.build(saved);
    this.savedFull = '';
    this.logger.info('room power-cycled');
  }

  /** Factory state for every unit, and the state file overwritten with it. */
  reset(): void {
    this.build(null);
    this.persist(true);
  }

  async close(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    this.sync();
    this.persist(true);
    const eps = this.endpoints.splice(0);
    await Promise.all(eps.map((e) => e.close()));
  }
}
