// A unit's view of the bus: typed reads and writes on top of BusClient, each with one definite
// result. Profiles use it so their command flows handle the same four outcomes everywhere:
// ok, a Modbus exception (the device refused: not executed), not sent, or lost (maybe executed).
import type { BusClient, BusPriority, BusResult } from '../bus/types.js';
import type { ModbusRequest, ReadFc } from '../../protocols/modbus/pdu.js';

/** One read request of a poll or discovery: a contiguous range of one function code. */
export interface ReadBlock {
  fc: ReadFc;
  address: number;
  quantity: number;
  /** For logs and the poll-plan check: what this block is. */
  label: string;
}

export type BlockReading =
  | { block: ReadBlock; kind: 'registers'; registers: number[] }
  | { block: ReadBlock; kind: 'bits'; bits: boolean[] };

export type IoFailure =
  | { kind: 'exception'; code: number; detail: string }
  /** The request never left (breaker open, port down, bus closing): certainly not executed. */
  | { kind: 'not-sent'; detail: string; breakerOpen: boolean }
  /** Timeout or bad reply: the device may or may not have executed it. */
  | { kind: 'lost'; detail: string };

export type IoResult<T> = { ok: true; value: T } | { ok: false; failure: IoFailure };

function failureOf(r: Exclude<BusResult, { ok: true }>): IoFailure {
  if (r.kind === 'exception') return { kind: 'exception', code: r.code, detail: r.detail };
  if (r.kind === 'timeout' || r.kind === 'bad-frame') return { kind: 'lost', detail: `${r.kind}: ${r.detail}` };
  // A bus that says it did send but cannot report a reply for another reason: treat as lost.
  if (r.sent) return { kind: 'lost', detail: `${r.kind}: ${r.detail}` };
  return { kind: 'not-sent', detail: `${r.kind}: ${r.detail}`, breakerOpen: r.kind === 'breaker-open' };
}

function blockReading(block: ReadBlock, r: BusResult): IoResult<BlockReading> {
  if (!r.ok) return { ok: false, failure: failureOf(r) };
  const { fc, address, quantity } = block;
  if (fc === 1 || fc === 2) {
    if (r.reply.kind !== 'bits' || r.reply.bits.length < quantity) {
      return { ok: false, failure: { kind: 'lost', detail: `reply to fc${fc} ${address}+${quantity} is not ${quantity} bits` } };
    }
    return { ok: true, value: { block, kind: 'bits', bits: r.reply.bits.slice(0, quantity) } };
  }
  if (r.reply.kind !== 'registers' || r.reply.registers.length !== quantity) {
    return { ok: false, failure: { kind: 'lost', detail: `reply to fc${fc} ${address}+${quantity} is not ${quantity} registers` } };
  }
  return { ok: true, value: { block, kind: 'registers', registers: r.reply.registers } };
}

export class UnitIo {
  constructor(
    readonly bus: BusClient,
    readonly unit: number,
    private readonly priority: BusPriority = 'command',
  ) {}

  /** The same unit with another bus priority (polls vs commands). */
  withPriority(priority: BusPriority): UnitIo {
    return new UnitIo(this.bus, this.unit, priority);
  }

  private send(req: ModbusRequest, timeoutMs?: number): Promise<BusResult> {
    return this.bus.request(this.unit, req, timeoutMs === undefined ? { priority: this.priority } : { priority: this.priority, timeoutMs });
  }

  async readRegisters(fc: 3 | 4, address: number, quantity: number, timeoutMs?: number): Promise<IoResult<number[]>> {
    const r = await this.send({ fc, address, quantity }, timeoutMs);
    if (!r.ok) return { ok: false, failure: failureOf(r) };
    if (r.reply.kind !== 'registers' || r.reply.registers.length !== quantity) {
      return { ok: false, failure: { kind: 'lost', detail: `reply to fc${fc} ${address}+${quantity} is not ${quantity} registers` } };
    }
    return { ok: true, value: r.reply.registers };
  }

  async readBits(fc: 1 | 2, address: number, quantity: number, timeoutMs?: number): Promise<IoResult<boolean[]>> {
    const r = await this.send({ fc, address, quantity }, timeoutMs);
    if (!r.ok) return { ok: false, failure: failureOf(r) };
    if (r.reply.kind !== 'bits' || r.reply.bits.length < quantity) {
      return { ok: false, failure: { kind: 'lost', detail: `reply to fc${fc} ${address}+${quantity} is not ${quantity} bits` } };
    }
    return { ok: true, value: r.reply.bits.slice(0, quantity) };
  }

  /** One step from the bus's answer to the reading (no async layers): every poll of every unit comes through here. */
  readBlock(block: ReadBlock, timeoutMs?: number): Promise<IoResult<BlockReading>> {
    const { fc, address, quantity } = block;
    return this.send({ fc, address, quantity }, timeoutMs).then((r) => blockReading(block, r));
  }

  async writeRegister(address: number, value: number, timeoutMs?: number): Promise<IoResult<null>> {
    const r = await this.send({ fc: 6, address, value }, timeoutMs);
    if (!r.ok) return { ok: false, failure: failureOf(r) };
    if (r.reply.kind !== 'register-written' || r.reply.address !== address || r.reply.value !== value) {
      return { ok: false, failure: { kind: 'lost', detail: `fc06 echo does not match ${address}=${value}` } };
    }
    return { ok: true, value: null };
  }

  async writeRegisters(address: number, values: number[], timeoutMs?: number): Promise<IoResult<null>> {
    const r = await this.send({ fc: 16, address, values }, timeoutMs);
    if (!r.ok) return { ok: false, failure: failureOf(r) };
    if (r.reply.kind !== 'registers-written' || r.reply.address !== address || r.reply.quantity !== values.length) {
      return { ok: false, failure: { kind: 'lost', detail: `fc16 echo does not match ${address}+${values.length}` } };
    }
    return { ok: true, value: null };
  }
}

/**
 * A unit that answers its identity read with "illegal function" or "illegal data address" is
 * there, but is not the device its profile expects: a wiring or DIP-switch mistake an installer
 * must hear about, not a unit to wait for.
 */
export function isForeignDeviceAnswer(f: IoFailure): boolean {
  return f.kind === 'exception' && (f.code === 1 || f.code === 2);
}
