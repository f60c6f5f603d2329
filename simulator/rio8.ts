// A pure model of one RIO-8 relay I/O module (rio8-coin-retrofit.md rev 2.0) and the coin
// machines wired to its channels. Pulse trains are timed by the module, not the bus: advance()
// walks every pulse edge in order, so coins land on the machines exactly as the contacts move.
import { ExceptionCode, LIMITS, type ModbusReply, type ModbusRequest } from '../protocols/modbus/pdu.js';
import { CoinMachine, type CoinMachineConfig, type CoinMachineJson, type CoinMachineSnapshot } from './coin-machine.js';
import { SimActionError } from './errors.js';

export const RIO8_MODULE_TYPE = 0x5208;
export const RIO8_CHANNELS = 8;
export const REG_PULSE_TRAIN = 16;
export const REG_PULSE_ON = 32;
export const REG_PULSE_OFF = 33;
export const REG_PULSE_COUNTER = 48;
export const PULSE_DEFAULT_MS = 60;
export const PULSE_MIN_MS = 20;
export const PULSE_MAX_MS = 500;
export const TRAIN_MAX = 50;

export interface Rio8Options {
  channels: Array<CoinMachineConfig | null>;
  firmware?: number;
  /** Where the pulse counters start at power-up; lets a test reach the 65536 wrap quickly. */
  pulseCounterStart?: number;
  /**
   * Sim ms per pulse-time ms. The module's pulses are real milliseconds whatever the room's time
   * scale, so a master sees a train busy for as long as it would on site; the room passes its scale.
   */
  pulseScale?: number;
}

/** Only the coin machines outlive a power cut: the module itself restarts from defaults. */
export interface Rio8Json {
  machines: Array<CoinMachineJson | null>;
}

interface Train {
  left: number;
  onMs: number;
  offMs: number;
  phase: 'on' | 'off';
  endsAt: number;
}

interface Channel {
  coil: boolean;
  train: Train | null;
  counter: number;
  machine: CoinMachine | null;
}

export interface Rio8ChannelSnapshot {
  channel: number;
  coil: boolean;
  contactClosed: boolean;
  pulsesPending: number;
  trainRunning: boolean;
  pulseCounter: number;
  inUse: boolean;
  machine: CoinMachineSnapshot | null;
}

export interface Rio8Snapshot {
  model: 'rio8';
  moduleType: number;
  firmware: number;
  pulseOnMs: number;
  pulseOffMs: number;
  channels: Rio8ChannelSnapshot[];
}

const exception = (fc: number, code: number): ModbusReply => ({ kind: 'exception', fc, code });

export class Rio8 {
  private readonly firmware: number;
  private readonly ch: Channel[];
  private onMs = PULSE_DEFAULT_MS;
  private offMs = PULSE_DEFAULT_MS;
  private t = 0;
  private readonly pulseScale: number;

  constructor(opts: Rio8Options, restored?: Rio8Json) {
    this.pulseScale = opts.pulseScale ?? 1;
    if (opts.channels.length > RIO8_CHANNELS) throw new SimActionError('bad-argument', `a RIO-8 has ${RIO8_CHANNELS} channels, not ${opts.channels.length}`);
    this.firmware = opts.firmware ?? 0x0200;
    const start = (opts.pulseCounterStart ?? 0) & 0xffff;
    this.ch = Array.from({ length: RIO8_CHANNELS }, (_, n) => {
      const cfg = opts.channels[n] ?? null;
      const saved = restored?.machines[n] ?? undefined;
      return { coil: false, train: null, counter: start, machine: cfg ? new CoinMachine(cfg, saved ?? undefined) : null };
    });
  }

  toJSON(): Rio8Json {
    return { machines: this.ch.map((c) => (c.machine ? c.machine.toJSON() : null)) };
  }

  private closed(c: Channel): boolean {
    return c.coil || c.train?.phase === 'on';
  }

  advance(ms: number): void {
    const end = this.t + Math.max(0, ms);
    for (;;) {
      let next = Infinity;
      for (const c of this.ch) {
        if (c.train) next = Math.min(next, c.train.endsAt);
        const m = c.machine?.nextEventIn();
        if (m !== undefined && m !== null) next = Math.min(next, this.t + m);
      }
      if (next > end) break;
      this.step(next - this.t);
      // Train edges compare against absolute times: land on the event exactly.
      this.t = next;
      // Far into a run (t ~ 1e10 sim ms at a high time scale) t + remaining can round back to t,
      // leaving a remainder below t's resolution that no step can take off: end that cycle now,
      // or this loop never moves again.
      for (const c of this.ch) {
        const m = c.machine?.nextEventIn();
        if (m !== undefined && m !== null && this.t + m <= this.t) c.machine?.advance(m);
      }
      for (const c of this.ch) this.trainEdge(c);
    }
    this.step(end - this.t);
  }

  private step(ms: number): void {
    this.t += ms;
    for (const c of this.ch) c.machine?.advance(ms);
  }

  private trainEdge(c: Channel): void {
    const tr = c.train;
    if (!tr || tr.endsAt > this.t) return;
    if (tr.phase === 'on') {
      // The pulse is sent when its contact opens again: the coin lands, the counter moves.
      if (!c.coil) c.machine?.coin();
      c.counter = (c.counter + 1) & 0xffff;
      tr.left -= 1;
      tr.phase = 'off';
      tr.endsAt += tr.offMs;
    } else if (tr.left > 0) {
      tr.phase = 'on';
      tr.endsAt += tr.onMs;
    } else {
      c.train = null;
    }
  }

  private channel(n: number): Channel {
    const c = this.ch[n];
    if (!c) throw new SimActionError('bad-argument', `channel ${n} is not 0..${RIO8_CHANNELS - 1}`);
    return c;
  }

  // ---- Modbus ----

  handle(req: ModbusRequest): ModbusReply {
    switch (req.fc) {
      case 1:
      case 2: {
        if (req.quantity < 1 || req.quantity > LIMITS.bits) return exception(req.fc, ExceptionCode.IllegalDataValue);
        if (req.address + req.quantity > RIO8_CHANNELS) return exception(req.fc, ExceptionCode.IllegalDataAddress);
        const bits = this.ch.slice(req.address, req.address + req.quantity).map((c) => (req.fc === 1 ? c.coil : (c.machine?.inUse ?? false)));
        return { kind: 'bits', fc: req.fc, bits };
      }
      case 3:
        return this.readHolding(req.address, req.quantity);
      case 5: {
        const c = this.ch[req.address];
        if (!c) return exception(5, ExceptionCode.IllegalDataAddress);
        this.setCoil(c, req.value);
        return { kind: 'coil-written', fc: 5, address: req.address, value: req.value };
      }
      case 6:
        return this.writeRegister(req.address, req.value);
      default:
        return exception(req.fc, ExceptionCode.IllegalFunction);
    }
  }

  private setCoil(c: Channel, on: boolean): void {
    const was = this.closed(c);
    c.coil = on;
    if (was && !this.closed(c)) c.machine?.coin();
  }

  private holding(address: number): number | null {
    if (address === 0) return RIO8_MODULE_TYPE;
    if (address === 1) return this.firmware;
    if (address === REG_PULSE_ON) return this.onMs;
    if (address === REG_PULSE_OFF) return this.offMs;
    const train = this.ch[address - REG_PULSE_TRAIN];
    if (address >= REG_PULSE_TRAIN && train) return train.train?.left ?? 0;
    const counter = this.ch[address - REG_PULSE_COUNTER];
    if (address >= REG_PULSE_COUNTER && counter) return counter.counter;
    return null;
  }

  private readHolding(address: number, quantity: number): ModbusReply {
    if (quantity < 1 || quantity > LIMITS.readRegisters) return exception(3, ExceptionCode.IllegalDataValue);
    const registers: number[] = [];
    for (let a = address; a < address + quantity; a++) {
      const v = this.holding(a);
      if (v === null) return exception(3, ExceptionCode.IllegalDataAddress);
      registers.push(v);
    }
    return { kind: 'registers', fc: 3, registers };
  }

  private writeRegister(address: number, value: number): ModbusReply {
    const ok: ModbusReply = { kind: 'register-written', fc: 6, address, value };
    if (address === REG_PULSE_ON || address === REG_PULSE_OFF) {
      if (value < PULSE_MIN_MS || value > PULSE_MAX_MS) return exception(6, ExceptionCode.IllegalDataValue);
      if (address === REG_PULSE_ON) this.onMs = value;
      else this.offMs = value;
      return ok;
    }
    const c = address >= REG_PULSE_TRAIN ? this.ch[address - REG_PULSE_TRAIN] : undefined;
    if (!c) return exception(6, ExceptionCode.IllegalDataAddress);
    if (value < 1 || value > TRAIN_MAX) return exception(6, ExceptionCode.IllegalDataValue);
    if (c.train) return exception(6, ExceptionCode.ServerDeviceBusy);
    // Times are taken when the train starts: a change mid-train applies to the next one.
    const onMs = this.onMs * this.pulseScale;
    c.train = { left: value, onMs, offMs: this.offMs * this.pulseScale, phase: 'on', endsAt: this.t + onMs };
    return ok;
  }

  // ---- the room ----

  pressStart(channel: number): void {
    const m = this.channel(channel).machine;
    if (!m) throw new SimActionError('not-possible', `no machine on channel ${channel}`);
    m.pressStart();
  }

  snapshot(): Rio8Snapshot {
    return {
      model: 'rio8',
      moduleType: RIO8_MODULE_TYPE,
      firmware: this.firmware,
      pulseOnMs: this.onMs,
      pulseOffMs: this.offMs,
      channels: this.ch.map((c, channel) => ({
        channel,
        coil: c.coil,
        contactClosed: this.closed(c),
        pulsesPending: c.train?.left ?? 0,
        trainRunning: c.train !== null,
        pulseCounter: c.counter,
        inUse: c.machine?.inUse ?? false,
        machine: c.machine ? c.machine.snapshot() : null,
      })),
    };
  }
}
