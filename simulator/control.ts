// SimControl: what a person (through the HTTP API), the demo or a test does to the room: the
// panel, the door, faults, and the wire misbehaving. Every method throws SimActionError when the
// action cannot happen, so a test never mistakes a no-op for an effect.
import type { ModbusReply, ModbusRequest } from '../protocols/modbus/pdu.js';
import { SimActionError } from './errors.js';
import { Lw485, type Lw485Json, type Lw485Snapshot } from './lw485.js';
import { Rio8, type Rio8Json, type Rio8Snapshot } from './rio8.js';

export interface SimDevice {
  handle(req: ModbusRequest): ModbusReply;
  advance(simMs: number): void;
  toJSON(): Lw485Json | Rio8Json;
}

export interface WireFaults {
  offline: boolean;
  drop: number;
  corrupt: number;
  delay: Array<{ ms: number; n: number }>;
  garbage: Buffer[];
}

/** What the room lends its control surface. */
export interface RoomAccess {
  device(unit: number): SimDevice | undefined;
  faults(unit: number): WireFaults | undefined;
  sync(): void;
  changed(): void;
  powerCycle(): void;
  reset(): void;
  units(): number[];
  realToSim(ms: number): number;
}

export interface WireFaultSnapshot {
  offline: boolean;
  dropNext: number;
  corruptNext: number;
  delayed: Array<{ ms: number; n: number }>;
  garbageQueued: number;
}

export type UnitSnapshot = (Lw485Snapshot | Rio8Snapshot) & { unit: number; wire: WireFaultSnapshot };

function count(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw new SimActionError('bad-argument', `${what} must be a whole number 0..1000000, not ${n}`);
  return n;
}

export class SimControl {
  constructor(private readonly room: RoomAccess) {}

  private dev(unit: number): SimDevice {
    const d = this.room.device(unit);
    if (!d) throw new SimActionError('unknown-unit', `no unit ${unit} in the room`);
    this.room.sync();
    return d;
  }

  private lw(unit: number): Lw485 {
    const d = this.dev(unit);
    if (!(d instanceof Lw485)) throw new SimActionError('not-possible', `unit ${unit} is not an LW-485 controller`);
    return d;
  }

  private wire(unit: number): WireFaults {
    const f = this.room.faults(unit);
    if (!f) throw new SimActionError('unknown-unit', `no unit ${unit} in the room`);
    return f;
  }

  private act(fn: () => void): void {
    fn();
    this.room.changed();
  }

  units(): number[] {
    return this.room.units();
  }

  /** Panel Start (LW-485) or the Start button of the coin machine on `channel` (RIO-8). */
  pressStart(unit: number, channel?: number): void {
    const d = this.dev(unit);
    if (d instanceof Rio8) {
      if (channel === undefined) throw new SimActionError('bad-argument', `unit ${unit} is a RIO-8: say which channel`);
      this.act(() => d.pressStart(channel));
    } else if (d instanceof Lw485) this.act(() => d.pressStart());
  }

  setDoor(unit: number, open: boolean): void {
    const d = this.lw(unit);
    this.act(() => d.setDoor(open));
  }

  selectProgram(unit: number, program: number): void {
    const d = this.lw(unit);
    this.act(() => d.selectProgram(program));
  }

  setLoad(unit: number, grams: number): void {
    const d = this.lw(unit);
    this.act(() => d.setLoad(grams));
  }

  setWaterHardness(unit: number, dh10: number): void {
    const d = this.lw(unit);
    this.act(() => d.setWaterHardness(dh10));
  }

  injectFault(unit: number, code: number): void {
    const d = this.lw(unit);
    this.act(() => d.injectFault(code));
  }

  resolveFaultCondition(unit: number): void {
    const d = this.lw(unit);
    this.act(() => d.resolveFaultCondition());
  }

  /** The controller writes its EEPROM for `ms` real ms: command writes get exception 06. */
  eepromBusy(unit: number, ms: number): void {
    this.lw(unit).eepromBusy(this.room.realToSim(count(ms, 'ms')));
  }

  /** The unit is pulled off the bus: it hears nothing and says nothing. */
  setOffline(unit: number, offline: boolean): void {
    this.wire(unit).offline = offline;
  }

  /** The next `n` replies have a bit flipped, so their CRC fails. */
  corruptReplies(unit: number, n: number): void {
    this.wire(unit).corrupt = count(n, 'n');
  }

  /** The next `n` requests are executed but their replies are lost. */
  dropReplies(unit: number, n: number): void {
    this.wire(unit).drop = count(n, 'n');
  }

  /** The next `n` replies come `ms` real ms late (on top of the turnaround). */
  delayReplies(unit: number, ms: number, n: number): void {
    const f = this.wire(unit);
    if (count(n, 'n') === 0) f.delay = [];
    else f.delay.push({ ms: count(ms, 'ms'), n });
  }

  /** Noise on the line just before the unit's next reply: `bytes` random bytes, or exactly these. */
  garbage(unit: number, bytes: number | Buffer): void {
    const f = this.wire(unit);
    const noise = typeof bytes === 'number' ? Buffer.from(Array.from({ length: count(bytes, 'bytes') }, () => Math.floor(Math.random() * 256))) : Buffer.from(bytes);
    if (noise.length > 0) f.garbage.push(noise);
  }

  /** Clears every wire fault of the unit (offline included). */
  clearWireFaults(unit: number): void {
    Object.assign(this.wire(unit), { offline: false, drop: 0, corrupt: 0, delay: [], garbage: [] });
  }

  snapshot(unit: number): UnitSnapshot {
    const d = this.dev(unit);
    const f = this.wire(unit);
    const wire: WireFaultSnapshot = { offline: f.offline, dropNext: f.drop, corruptNext: f.corrupt, delayed: f.delay.map((x) => ({ ...x })), garbageQueued: f.garbage.length };
    if (d instanceof Lw485) return { ...d.snapshot(), unit, wire };
    if (d instanceof Rio8) return { ...d.snapshot(), unit, wire };
    throw new SimActionError('unknown-unit', `unit ${unit} has an unknown model`);
  }

  /** Typed snapshot of an LW-485 unit (throws for a RIO-8). */
  lw485(unit: number): Lw485Snapshot & { unit: number; wire: WireFaultSnapshot } {
    const s = this.snapshot(unit);
    if (s.model === 'rio8') throw new SimActionError('not-possible', `unit ${unit} is a RIO-8`);
    return s;
  }

  /** Typed snapshot of a RIO-8 unit (throws for an LW-485). */
  rio8(unit: number): Rio8Snapshot & { unit: number; wire: WireFaultSnapshot } {
    const s = this.snapshot(unit);
    if (s.model !== 'rio8') throw new SimActionError('not-possible', `unit ${unit} is an LW-485`);
    return s;
  }

  /** Power cut and back: units restart from the persisted state file. */
  powerCycle(): void {
    this.room.powerCycle();
  }

  /** Every unit back to factory state (and the state file with it). */
  reset(): void {
    this.room.reset();
  }
}
