// Input 3: what a device on the bus answers. (a) Reply bytes, RTU and Modbus TCP, through the
// bus master's Exchange (the strict reply check against the request that was sent): random
// bytes, valid replies, and valid replies mutated (fields, lengths, function and exception codes)
// with the CRC recomputed so the checks behind the CRC are reached. A reply is taken only when
// it is, by the Modbus spec, the answer to that request; the verdict does not depend on how
// the bytes were split. (b) Register and bit values, any at all, through the real LW-485 and
// RIO-8 profiles (discovery, then a poll decoded into MachineStates) behind UnitIo: the only
// error they may raise is ProfileError, which the poller catches; valid devices still decode.
import fc from 'fast-check';
import { z } from 'zod';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { Exchange, type FeedResult, type Framing } from '../../gateway/bus/exchange.js';
import type { BusClient, BusResult } from '../../gateway/bus/types.js';
import { unitMachineIds, type UnitConfig } from '../../gateway/profiles/config-schema.js';
import { UnitIo } from '../../gateway/profiles/io.js';
import { LW485, LW485_REJECTIONS } from '../../gateway/profiles/lw485-codec.js';
import { Lw485Transaction } from '../../gateway/profiles/lw485-transaction.js';
import type { IoFailure, IoResult } from '../../gateway/profiles/io.js';
import { profileOptions } from '../../gateway/profiles/options.js';
import { bindProfile } from '../../gateway/profiles/registry.js';
import { RIO8, counterDelta } from '../../gateway/profiles/rio8-codec.js';
import { Rio8Credit } from '../../gateway/profiles/rio8-transaction.js';
import { ProfileError, type BlockReading, type CommandOutcome } from '../../gateway/profiles/types.js';
import type { MachineState } from '../../gateway/machines/state.js';
import { crc16 } from '../../protocols/modbus/crc.js';
import { encodeReplyPdu, type ModbusReply, type ModbusRequest } from '../../protocols/modbus/pdu.js';
import { encodeRtuReply } from '../../protocols/modbus/rtu.js';
import { encodeMbap } from '../../protocols/modbus/tcp.js';
import { Tally, must, runProperties, splitAt, type FuzzEnv, type FuzzProperty, type InputReport } from './fuzz-common.js';

// ---- (a) reply frames -----------------------------------------------------------------------

const u16 = fc.integer({ min: 0, max: 0xffff });

/** The requests the profiles send, and any other valid request. */
const requestArb: fc.Arbitrary<ModbusRequest> = fc.oneof(
  fc.constantFrom<ModbusRequest>(
    { fc: 4, address: 0, quantity: 6 },
    { fc: 4, address: 16, quantity: 14 },
    { fc: 4, address: 24, quantity: 2 },
    { fc: 3, address: 512, quantity: 120 },
    { fc: 16, address: 256, values: [7, 1, 2, 350, 0] },
    { fc: 3, address: 0, quantity: 2 },
    { fc: 2, address: 0, quantity: 8 },
    { fc: 3, address: 48, quantity: 8 },
    { fc: 6, address: 17, value: 7 },
    { fc: 2, address: 3, quantity: 1 },
  ),
  fc.record({ fc: fc.constantFrom<1 | 2>(1, 2), address: u16, quantity: fc.oneof(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 20 })) }),
  fc.record({ fc: fc.constantFrom<3 | 4>(3, 4), address: u16, quantity: fc.oneof(fc.integer({ min: 1, max: 125 }), fc.integer({ min: 1, max: 10 })) }),
  fc.record({ fc: fc.constant<5>(5), address: u16, value: fc.boolean() }),
  fc.record({ fc: fc.constant<6>(6), address: u16, value: u16 }),
  fc.record({ fc: fc.constant<16>(16), address: u16, values: fc.array(u16, { minLength: 1, maxLength: 123, size: 'max' }) }),
);

/** A valid normal reply to `req` with arbitrary data, from a seed array of values. */
function validReply(req: ModbusRequest, data: readonly number[]): Exclude<ModbusReply, { kind: 'exception' }> {
  const at = (i: number): number => data.length === 0 ? 0 : (data[i % data.length] ?? 0);
  switch (req.fc) {
    case 1:
    case 2:
      return { kind: 'bits', fc: req.fc, bits: Array.from({ length: req.quantity }, (_, i) => (at(i) & 1) === 1) };
    case 3:
    case 4:
      return { kind: 'registers', fc: req.fc, registers: Array.from({ length: req.quantity }, (_, i) => at(i)) };
    case 5:
      return { kind: 'coil-written', fc: 5, address: req.address, value: req.value };
    case 6:
      return { kind: 'register-written', fc: 6, address: req.address, value: req.value };
    case 16:
      return { kind: 'registers-written', fc: 16, address: req.address, quantity: req.values.length };
  }
}

/** Bytes of the normal reply to `req` in RTU, from the spec's tables (not from rtu.ts). */
function specRtuLength(req: ModbusRequest): number {
  if (req.fc === 1 || req.fc === 2) return 1 + 2 + Math.ceil(req.quantity / 8) + 2;
  if (req.fc === 3 || req.fc === 4) return 1 + 2 + 2 * req.quantity + 2;
  return 1 + 5 + 2;
}

/** Whether `pdu` is, by the spec, the normal reply `r` to `req` (padding bits of a bit reply ignored). */
function pduMatches(req: ModbusRequest, pdu: Uint8Array, r: ModbusReply): string | null {
  if (r.kind === 'exception') return pdu.length === 2 && pdu[0] === (req.fc | 0x80) && pdu[1] === r.code && r.fc === req.fc ? null : 'exception reply does not match the bytes';
  if (pdu[0] !== req.fc || r.fc !== req.fc) return `function ${pdu[0] ?? '-'} taken as the reply to function ${req.fc}`;
  switch (r.kind) {
    case 'bits': {
      if (req.fc !== 1 && req.fc !== 2) return 'bits for a register request';
      const n = Math.ceil(req.quantity / 8);
      if (pdu.length !== 2 + n || pdu[1] !== n || r.bits.length !== req.quantity) return 'bit reply of the wrong size taken';
      for (let i = 0; i < req.quantity; i++) if ((((pdu[2 + (i >> 3)] ?? 0) >> (i & 7)) & 1) !== (r.bits[i] ? 1 : 0)) return `bit ${i} differs from the bytes`;
      return null;
    }
    case 'registers': {
      if (req.fc !== 3 && req.fc !== 4) return 'registers for a bit request';
      if (pdu.length !== 2 + 2 * req.quantity || pdu[1] !== 2 * req.quantity || r.registers.length !== req.quantity) return 'register reply of the wrong size taken';
      for (let i = 0; i < req.quantity; i++) if (((pdu[2 + 2 * i] ?? 0) << 8) + (pdu[3 + 2 * i] ?? 0) !== r.registers[i]) return `register ${i} differs from the bytes`;
      return null;
    }
    case 'coil-written':
      return req.fc === 5 && pdu.length === 5 && r.address === req.address && r.value === req.value && ((pdu[1] ?? 0) << 8) + (pdu[2] ?? 0) === req.address && ((pdu[3] ?? 0) << 8) + (pdu[4] ?? 0) === (req.value ? 0xff00 : 0) ? null : 'fc5 echo taken that does not match';
    case 'register-written':
      return req.fc === 6 && pdu.length === 5 && r.address === req.address && r.value === req.value && ((pdu[1] ?? 0) << 8) + (pdu[2] ?? 0) === req.address && ((pdu[3] ?? 0) << 8) + (pdu[4] ?? 0) === req.value ? null : 'fc6 echo taken that does not match';
    case 'registers-written':
      return req.fc === 16 && pdu.length === 5 && r.address === req.address && r.quantity === req.values.length && ((pdu[1] ?? 0) << 8) + (pdu[2] ?? 0) === req.address && ((pdu[3] ?? 0) << 8) + (pdu[4] ?? 0) === req.values.length ? null : 'fc16 echo taken that does not match';
  }
}

/** Where, by the spec, the answer sits in `data`; null when the bytes hold no answer to (unit, req, tid). */
function specFrame(framing: Framing, unit: number, req: ModbusRequest, tid: number, data: Uint8Array): Uint8Array | null {
  if (framing === 'rtu') {
    if (data[0] !== unit) return null;
    const total = data[1] === (req.fc | 0x80) ? 5 : data[1] === req.fc ? specRtuLength(req) : 0;
    if (total === 0 || data.length < total) return null;
    const crc = (data[total - 2] ?? 0) + ((data[total - 1] ?? 0) << 8);
    return crc16(data, 0, total - 2) === crc ? data.subarray(1, total - 2) : null;
  }
  for (let off = 0; off + 7 <= data.length; ) {
    const b = (i: number): number => data[off + i] ?? 0;
    const len = (b(4) << 8) + b(5);
    if ((b(2) << 8) + b(3) !== 0 || len < 2 || len > 254 || off + 6 + len > data.length) return null;
    if ((b(0) << 8) + b(1) === tid) return b(6) === unit ? data.subarray(off + 7, off + 6 + len) : null;
    off += 6 + len;
  }
  return null;
}

function encodeFrame(framing: Framing, unit: number, tid: number, pdu: Buffer): Buffer {
  return framing === 'rtu' ? encodeRtuReply(unit, pdu) : encodeMbap(tid, unit, pdu);
}

type Mutation =
  | { op: 'set'; at: number; byte: number }
  | { op: 'flip'; at: number; bit: number }
  | { op: 'truncate'; at: number }
  | { op: 'append'; bytes: number[] }
  | { op: 'insert'; at: number; byte: number }
  | { op: 'delete'; at: number }
  | { op: 'function'; fc: number }
  | { op: 'count'; delta: number }
  | { op: 'exception'; code: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant<'set'>('set'), at: fc.nat(300), byte: fc.nat(255) }),
  fc.record({ op: fc.constant<'flip'>('flip'), at: fc.nat(300), bit: fc.nat(7) }),
  fc.record({ op: fc.constant<'truncate'>('truncate'), at: fc.nat(300) }),
  fc.record({ op: fc.constant<'append'>('append'), bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant<'insert'>('insert'), at: fc.nat(300), byte: fc.nat(255) }),
  fc.record({ op: fc.constant<'delete'>('delete'), at: fc.nat(300) }),
  fc.record({ op: fc.constant<'function'>('function'), fc: fc.oneof(fc.nat(255), fc.constantFrom(1, 2, 3, 4, 5, 6, 15, 16, 0x83, 0x84, 0x90)) }),
  fc.record({ op: fc.constant<'count'>('count'), delta: fc.integer({ min: -3, max: 3 }).filter((d) => d !== 0) }),
  fc.record({ op: fc.constant<'exception'>('exception'), code: fc.oneof(fc.nat(255), fc.integer({ min: 1, max: 11 })) }),
);

/** Applies a mutation to a PDU (the function code is byte 0). */
function mutatePdu(pdu: number[], m: Mutation, reqFc: number): number[] {
  const b = [...pdu];
  const i = (n: number): number => (b.length === 0 ? 0 : n % b.length);
  switch (m.op) {
    case 'set':
      if (b.length > 0) b[i(m.at)] = m.byte;
      break;
    case 'flip':
      if (b.length > 0) b[i(m.at)] = (b[i(m.at)] ?? 0) ^ (1 << m.bit);
      break;
    case 'truncate':
      b.length = b.length === 0 ? 0 : m.at % b.length;
      break;
    case 'append':
      b.push(...m.bytes);
      break;
    case 'insert':
      b.splice(m.at % (b.length + 1), 0, m.byte);
      break;
    case 'delete':
      if (b.length > 0) b.splice(i(m.at), 1);
      break;
    case 'function':
      b[0] = m.fc;
      break;
    case 'count':
      if (b.length > 1) b[1] = ((b[1] ?? 0) + m.delta) & 0xff;
      break;
    case 'exception':
      return [reqFc | 0x80, m.code];
  }
  return b;
}

type Reply =
  | { kind: 'valid'; reply: ModbusReply }
  | { kind: 'mutated'; pdu: number[]; crcOk: boolean; unit: number | null; header: { protocol: number; length: number | null } | null }
  | { kind: 'random'; bytes: Uint8Array };

/** Reply bytes for one case, and what the bytes must yield when they are a valid reply. */
function replyBytes(framing: Framing, unit: number, tid: number, r: Reply, stale: Uint8Array): { data: Uint8Array; expect: ModbusReply | null } {
  if (r.kind === 'random') return { data: r.bytes, expect: null };
  if (r.kind === 'valid') {
    const frame = encodeFrame(framing, unit, tid, encodeReplyPdu(r.reply));
    return { data: Uint8Array.from([...(framing === 'mbap' ? stale : []), ...frame]), expect: r.reply };
  }
  const u = r.unit ?? unit;
  if (framing === 'rtu') {
    const body = Buffer.from([u, ...r.pdu]);
    const frame = r.crcOk ? encodeRtuReply(u, Buffer.from(r.pdu)) : Buffer.concat([body, Buffer.from([0x12, 0x34])]);
    return { data: Uint8Array.from(frame), expect: null };
  }
  const frame = encodeMbap(tid, u, Buffer.from(r.pdu));
  if (r.header !== null) {
    frame.writeUInt16BE(r.header.protocol, 2);
    if (r.header.length !== null) frame.writeUInt16BE(r.header.length, 4);
  }
  return { data: Uint8Array.from([...stale, ...frame]), expect: null };
}

/** Feeds the chunks as the bus loop does, until the exchange settles or the bytes run out. */
function feedAll(ex: Exchange, chunks: readonly Uint8Array[]): FeedResult {
  let r: FeedResult = { status: 'pending' };
  for (const c of chunks) {
    r = ex.feed(Buffer.from(c));
    if (r.status !== 'pending') break;
  }
  return r;
}

function badReason(detail: string): string {
  const head = /^(crc|unit|function|length):/.exec(detail)?.[1];
  if (head !== undefined) return `bad-${head}`;
  if (/reply from unit/.test(detail)) return 'bad-unit';
  if (/protocol id|MBAP length/.test(detail)) return 'bad-mbap-header';
  if (/byte count|bytes, expected|too short/.test(detail)) return 'bad-length';
  if (/echo/.test(detail)) return 'bad-echo';
  if (/does not match request function/.test(detail)) return 'bad-function';
  if (/without a valid reply/.test(detail)) return 'bad-overlong';
  return 'bad-other';
}

// ---- (b) register values through the profiles -------------------------------------------------

type Failure = { kind: 'exception'; code: number } | { kind: 'timeout' } | { kind: 'bad-frame' } | { kind: 'breaker-open' } | { kind: 'short' };

interface Device {
  config: UnitConfig;
  /** Register values by address, else `fill`. */
  regs: Map<number, number>;
  fill: readonly number[];
  bits: readonly boolean[];
  /** The nth request of the case fails this way (null: answered). */
  failures: readonly (Failure | null)[];
}

const failureArb: fc.Arbitrary<Failure> = fc.oneof(
  fc.record({ kind: fc.constant<'exception'>('exception'), code: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.nat(255)) }),
  fc.constantFrom<Failure>({ kind: 'timeout' }, { kind: 'bad-frame' }, { kind: 'breaker-open' }, { kind: 'short' }),
);

const lw485Config = fc.record({ kind: fc.option(fc.constantFrom<'washer' | 'dryer'>('washer', 'dryer'), { nil: undefined }), named: fc.boolean() }).map(
  ({ kind, named }): UnitConfig => ({ unit: 1, profile: 'lw485', machineId: 'W1', ...(kind === undefined ? {} : { kind }), ...(named ? { name: 'Washer 1' } : {}) }),
);
const rio8Config = fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 8 }).map(
  (chs): UnitConfig => ({
    unit: 20,
    profile: 'rio8',
    channels: chs.map((c) => ({ channel: c, machineId: `C${c}`, kind: c % 2 === 0 ? 'washer' : 'dryer', coinCents: 50, coinsPerProgram: { '1': 7, '2': 50 }, cycleMinutes: 30 })),
  }),
);

/** `arb` about once in `n` cases, else null (fast-check's option gives null once in `freq`). */
const sometimes = <T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> => fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

/** Values skewed to what the decoders branch on, and anything else. */
const regValue = fc.oneof({ weight: 3, arbitrary: u16 }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 6, 7, 16, 17, 0xffff, 0x5701, 0x4401, 0x5208) });

const deviceArb: fc.Arbitrary<Device> = fc
  .record({
    config: fc.oneof(lw485Config, rio8Config),
    model: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(LW485.modelWasher, LW485.modelDryer) }, { weight: 1, arbitrary: u16 }),
    moduleType: fc.oneof({ weight: 4, arbitrary: fc.constant(RIO8.moduleType) }, { weight: 1, arbitrary: u16 }),
    programCount: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 16 }) }, { weight: 1, arbitrary: u16 }),
    state: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 6 }) }, { weight: 1, arbitrary: u16 }),
    overrides: fc.array(fc.tuple(fc.nat(700), regValue), { maxLength: 20 }),
    fill: fc.array(regValue, { minLength: 1, maxLength: 64 }),
    bits: fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
    failures: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(sometimes(failureArb, 6), { maxLength: 12 }) }),
  })
  .map(({ config, model, moduleType, programCount, state, overrides, fill, bits, failures }) => {
    const regs = new Map<number, number>(overrides);
    if (config.profile === 'lw485') {
      regs.set(0, model);
      regs.set(5, programCount);
      regs.set(16, state);
    } else regs.set(0, moduleType);
    return { config, regs, fill, bits, failures };
  });

const STATUSES = new Set(['idle', 'credited', 'running', 'paused', 'done', 'fault', 'service', 'offline']);
const num = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isFinite(v));

function checkState(s: MachineState, machines: readonly string[]): void {
  must(machines.includes(s.machineId), `state for machine ${s.machineId}, which the config does not name`);
  must(s.kind === 'washer' || s.kind === 'dryer', `kind ${String(s.kind)}`);
  must(STATUSES.has(s.status), `status ${String(s.status)}`);
  for (const [k, v] of Object.entries({ program: s.program, selectedProgram: s.selectedProgram, remainingSec: s.remainingSec, faultCode: s.faultCode, creditCents: s.creditCents, ...s.sensors })) {
    must(num(v) && (v === null || v >= 0), `${k} is ${String(v)}`);
  }
  must(s.creditCents === null || Number.isInteger(s.creditCents), 'creditCents is not whole cents');
  const facts = z.record(z.string(), z.unknown()).safeParse(s.confirm);
  must(facts.success, 'confirm is a record of device facts');
  for (const [k, v] of Object.entries(facts.data ?? {})) must(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0, `confirm.${k} is ${String(v)}`);
}

class FakeBus implements BusClient {
  readonly busId = 'fuzz';
  calls = 0;
  constructor(private readonly dev: Device) {}

  request(_unit: number, req: ModbusRequest): Promise<BusResult> {
    const f = this.dev.failures[this.calls++] ?? null;
    const reg = (a: number): number => this.dev.regs.get(a) ?? this.dev.fill[a % this.dev.fill.length] ?? 0;
    if (f !== null) {
      if (f.kind === 'exception') return Promise.resolve({ ok: false, kind: 'exception', code: f.code, detail: `exception ${f.code}`, latencyMs: 1 });
      if (f.kind === 'breaker-open') return Promise.resolve({ ok: false, kind: 'breaker-open', detail: 'breaker open', sent: false });
      if (f.kind === 'timeout' || f.kind === 'bad-frame') return Promise.resolve({ ok: false, kind: f.kind, detail: f.kind, sent: true });
      // A reply of the right kind but the wrong size: the bus never passes one, UnitIo still checks.
      if (req.fc === 3 || req.fc === 4) return Promise.resolve({ ok: true, reply: { kind: 'registers', fc: req.fc, registers: [1] }, latencyMs: 1 });
    }
    switch (req.fc) {
      case 1:
      case 2:
        return Promise.resolve({ ok: true, reply: { kind: 'bits', fc: req.fc, bits: Array.from({ length: req.quantity }, (_, i) => this.dev.bits[(req.address + i) % this.dev.bits.length] === true) }, latencyMs: 1 });
      case 3:
      case 4:
        return Promise.resolve({ ok: true, reply: { kind: 'registers', fc: req.fc, registers: Array.from({ length: req.quantity }, (_, i) => reg(req.address + i)) }, latencyMs: 1 });
      default:
        return Promise.resolve({ ok: true, reply: validReply(req, []), latencyMs: 1 });
    }
  }
}

function profileReason(e: ProfileError): string {
  const m = e.message;
  if (/model register/.test(m)) return 'profile-bad-model';
  if (/module type register/.test(m)) return 'profile-bad-module-type';
  if (/program count/.test(m)) return 'profile-bad-program-count';
  if (/state register/.test(m)) return 'profile-bad-state';
  if (/configured as a/.test(m)) return 'profile-kind-mismatch';
  if (/refuses the .* identity read/.test(m)) return 'profile-foreign-device';
  return 'profile-other';
}

/** Whether every read needed answered and every decoder branch is a valid one: then the unit must decode. */
function deviceIsValid(d: Device): boolean {
  if (d.failures.some((f) => f !== null)) return false;
  const reg = (a: number): number => d.regs.get(a) ?? d.fill[a % d.fill.length] ?? 0;
  if (d.config.profile === 'rio8') return reg(0) === RIO8.moduleType;
  const model = reg(0);
  const kind = model === LW485.modelWasher ? 'washer' : model === LW485.modelDryer ? 'dryer' : null;
  return kind !== null && (d.config.kind === undefined || d.config.kind === kind) && reg(5) >= 1 && reg(5) <= 16 && reg(16) <= 6;
}

// ---- (c) the replies a command flow gets -------------------------------------------------------

/** What the device answers one request of a command flow with. */
type Answer = { ok: true; a: number; b: number } | { ok: false; failure: IoFailure };
const ioFailure: fc.Arbitrary<IoFailure> = fc.oneof(
  fc.record({ kind: fc.constant<'exception'>('exception'), code: fc.oneof(fc.constantFrom(1, 2, 3, 4, 6, 6, 6), fc.nat(255)), detail: fc.constant('exception') }),
  fc.record({ kind: fc.constant<'lost'>('lost'), detail: fc.constant('timeout: no reply') }),
  fc.record({ kind: fc.constant<'not-sent'>('not-sent'), detail: fc.constant('breaker-open'), breakerOpen: fc.boolean() }),
);
const answerArb = (seqish: fc.Arbitrary<number>): fc.Arbitrary<Answer> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ ok: fc.constant<true>(true), a: seqish, b: fc.oneof(fc.integer({ min: 0, max: 9 }), u16) }) },
    { weight: 1, arbitrary: ioFailure.map((failure): Answer => ({ ok: false, failure })) },
  );
const commandCase = fc.record({
  profile: fc.constantFrom<'lw485' | 'rio8'>('lw485', 'rio8'),
  seq: fc.integer({ min: 1, max: 0xffff }),
  coins: fc.integer({ min: 1, max: 50 }),
  before: u16,
  answers: fc.array(answerArb(fc.oneof(fc.constant(-1), u16)), { maxLength: 40 }),
  steps: fc.array(fc.oneof(fc.constant(0), fc.nat(400)), { maxLength: 40 }),
});

/** A bound the flows must keep whatever the device answers (the longest RIO-8 train: 50 coins at the
 * datasheet's slowest 500 + 500 ms, polled every 50 ms, is about 3 000 steps). */
const MAX_ACTIONS = 5000;

function runLw485(c: { seq: number; answers: readonly Answer[]; steps: readonly number[] }): { outcome: CommandOutcome; log: string[] } {
  const tx = new Lw485Transaction({ profile: 'lw485', unit: 1, seq: c.seq, code: 1 }, profileOptions().lw485);
  const log: string[] = [];
  let now = 0;
  let i = 0;
  const next = (): Answer => c.answers[i++] ?? { ok: false, failure: { kind: 'lost', detail: 'timeout: no reply' } };
  let a = tx.start();
  for (let n = 0; n < MAX_ACTIONS; n++) {
    now += c.steps[n % Math.max(1, c.steps.length)] ?? 0;
    switch (a.do) {
      case 'write': {
        const r = next();
        const w: IoResult<null> = r.ok ? { ok: true, value: null } : r;
        log.push(r.ok ? 'write ok' : `write ${r.failure.kind}`);
        a = tx.onWrite(w, now);
        break;
      }
      case 'read-result': {
        const r = next();
        // -1 stands for "our seq": the device shows the command it executed.
        const value = r.ok ? [r.a === -1 ? c.seq : r.a, r.b] : null;
        log.push(value === null || !r.ok ? `read ${r.ok ? '' : r.failure.kind}` : `read ${value[0]}/${value[1]}`);
        a = tx.onReadResult(value === null || !r.ok ? (r.ok ? { ok: false, failure: { kind: 'lost', detail: 'x' } } : r) : { ok: true, value }, now);
        break;
      }
      case 'sleep':
        now += a.ms;
        a = tx.onSlept();
        break;
      case 'done':
        return { outcome: a.outcome, log };
    }
  }
  throw new Error(`LW-485 command did not end within ${MAX_ACTIONS} steps`);
}

function runRio8(c: { coins: number; before: number; answers: readonly Answer[]; steps: readonly number[] }): { outcome: CommandOutcome; log: string[]; writes: number; counters: number[] } {
  const tx = new Rio8Credit({ unit: 20, channel: 3, coins: c.coins, pulseOnMs: 50, pulseOffMs: 50 }, profileOptions().rio8);
  const log: string[] = [];
  const counters: number[] = [];
  let now = 0;
  let i = 0;
  let wrote = false;
  const next = (): Answer => c.answers[i++] ?? { ok: false, failure: { kind: 'lost', detail: 'timeout: no reply' } };
  // -1 stands for "the counter as it was before" (reads before the write) or "moved by the coins".
  const value = (r: { a: number }, what: 'counter' | 'other'): number => (r.a !== -1 ? r.a : what === 'counter' ? (wrote ? (c.before + c.coins) & 0xffff : c.before) : 0);
  let a = tx.start();
  for (let n = 0; n < MAX_ACTIONS; n++) {
    now += c.steps[n % Math.max(1, c.steps.length)] ?? 0;
    const r = a.do === 'sleep' || a.do === 'done' ? null : next();
    const fail = r !== null && !r.ok ? r : null;
    switch (a.do) {
      case 'read-in-use':
        log.push('in-use');
        a = tx.onInUse(fail ?? { ok: true, value: r !== null && r.ok ? r.b % 2 === 1 && r.b > 5 : false });
        break;
      case 'read-pending':
        log.push('pending');
        a = tx.onPending(fail ?? { ok: true, value: r !== null && r.ok ? (r.a === -1 ? 0 : r.b > 7 ? r.b : 0) : 0 }, now);
        break;
      case 'read-counter': {
        const v = r !== null && r.ok ? value(r, 'counter') : 0;
        if (fail === null) counters.push(v);
        log.push(fail === null ? `counter ${v}` : `counter ${fail.failure.kind}`);
        a = tx.onCounter(fail ?? { ok: true, value: v }, now);
        break;
      }
      case 'read-pulse-times':
        a = tx.onPulseTimes(fail ?? { ok: true, value: r !== null && r.ok ? [r.b, r.a === -1 ? 50 : r.a] : [50, 50] });
        break;
      case 'write':
        wrote = true;
        log.push(fail === null ? 'write ok' : `write ${fail.failure.kind}`);
        a = tx.onWrite(fail ?? { ok: true, value: null }, now);
        break;
      case 'sleep':
        now += a.ms;
        a = tx.onSlept();
        break;
      case 'done':
        return { outcome: a.outcome, log, writes: tx.writeCount, counters };
    }
  }
  throw new Error(`RIO-8 credit did not end within ${MAX_ACTIONS} steps`);
}

export async function fuzzModbus(env: FuzzEnv): Promise<InputReport> {
  const tally = new Tally();
  const extra = { 'command flows run': 0, 'frames fed': 0, 'valid replies taken': 0, 'exception replies taken': 0, 'units discovered': 0, 'machine states decoded': 0 };
  const t0 = performance.now();

  const frames: FuzzProperty = {
    id: 'modbus.frames',
    weight: 3,
    property: () =>
      fc.property(
        fc.constantFrom<Framing>('rtu', 'mbap'),
        fc.integer({ min: 1, max: 247 }),
        requestArb,
        fc.nat(0xffff),
        fc.oneof(
          { weight: 2, arbitrary: fc.array(u16, { maxLength: 130, size: 'max' }).map((data) => ({ kind: 'data' as const, data })) },
          { weight: 1, arbitrary: fc.oneof(fc.integer({ min: 1, max: 11 }), fc.nat(255)).map((code) => ({ kind: 'exception' as const, code })) },
          { weight: 5, arbitrary: fc.record({ kind: fc.constant<'mutated'>('mutated'), data: fc.array(u16, { maxLength: 130, size: 'max' }), muts: fc.array(mutation, { minLength: 1, maxLength: 3 }), crcOk: fc.boolean(), unit: sometimes(fc.nat(255), 8), header: sometimes(fc.record({ protocol: fc.oneof(fc.constant(0), u16), length: fc.option(u16, { nil: null }) }), 6) }) },
          { weight: 2, arbitrary: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 700, size: 'max' })).map((bytes) => ({ kind: 'random' as const, bytes })) },
        ),
        sometimes(fc.record({ tid: fc.nat(0xffff), pdu: fc.uint8Array({ minLength: 1, maxLength: 20 }) }), 3),
        fc.array(fc.nat(), { maxLength: 6 }),
        (framing, unit, req, tid, gen, staleGen, cuts) => {
          extra['frames fed']++;
          let r: Reply;
          if (gen.kind === 'data') r = { kind: 'valid', reply: validReply(req, gen.data) };
          else if (gen.kind === 'exception') r = { kind: 'valid', reply: { kind: 'exception', fc: req.fc, code: gen.code } };
          else if (gen.kind === 'random') r = { kind: 'random', bytes: gen.bytes };
          else {
            const base = [...encodeReplyPdu(validReply(req, gen.data))];
            r = { kind: 'mutated', pdu: gen.muts.reduce((p, m) => mutatePdu(p, m, req.fc), base), crcOk: gen.crcOk, unit: gen.unit, header: gen.header };
          }
          // A frame of an earlier, abandoned transaction before the answer (Modbus TCP only).
          const stale = staleGen !== null && staleGen.tid !== tid ? encodeMbap(staleGen.tid, unit, Buffer.from(staleGen.pdu)) : Buffer.alloc(0);
          const { data, expect } = replyBytes(framing, unit, tid, r, stale);
          const whole = feedAll(new Exchange(framing, unit, req, tid), [data]);
          const split = feedAll(new Exchange(framing, unit, req, tid), splitAt(data, cuts));

          // `trailing` may differ (bytes after the frame that had not arrived yet): the rest may not.
          const verdict = (f: FeedResult): string => JSON.stringify(f.status === 'reply' ? { status: f.status, reply: f.reply } : f);
          if (data.length <= 512) must(verdict(whole) === verdict(split), () => `verdict depends on how the bytes were split: ${JSON.stringify(whole).slice(0, 200)} vs ${JSON.stringify(split).slice(0, 200)}`);
          if (whole.status === 'bad') {
            must(whole.detail.length > 0, 'a bad frame without a detail');
            must(expect === null, () => `a valid reply was refused: ${whole.detail}`);
            tally.reject(badReason(whole.detail));
          } else if (whole.status === 'pending') {
            must(expect === null, 'a whole valid reply left the exchange waiting');
            tally.reject('incomplete (times out)');
          } else {
            const pdu = specFrame(framing, unit, req, tid, data);
            must(pdu !== null, () => `a reply was taken from bytes that hold no valid answer: ${Buffer.from(data).toString('hex').slice(0, 120)}`);
            const wrong = pduMatches(req, pdu, whole.reply);
            must(wrong === null, () => wrong ?? '');
            if (expect !== null) must(JSON.stringify(whole.reply) === JSON.stringify(expect), 'a valid reply decoded to other values');
            if (whole.reply.kind === 'exception') extra['exception replies taken']++;
            else extra['valid replies taken']++;
            tally.accept();
          }
          return true;
        },
      ),
  };

  const profiles: FuzzProperty = {
    id: 'modbus.profiles',
    weight: 2,
    property: () =>
      fc.asyncProperty(deviceArb, async (dev) => {
        const bus = new FakeBus(dev);
        const io = new UnitIo(bus, dev.config.unit);
        const deps = { io, logger: silentLogger(), clock: systemClock, options: profileOptions() };
        const machines = unitMachineIds(dev.config);
        const valid = deviceIsValid(dev);
        try {
          const d = await bindProfile(dev.config).discover(deps, null);
          if (!d.ok) {
            must(!valid, () => `a valid unit failed discovery: ${d.failure.detail}`);
            must(d.failure.detail.length > 0, 'a discovery failure without a detail');
            tally.reject(`discovery-${d.failure.kind}`);
            return true;
          }
          extra['units discovered']++;
          must(d.driver.info.machines.length === machines.length && d.driver.info.machines.every((m) => machines.includes(m.machineId)), 'discovery names other machines than the config');
          for (const m of d.driver.info.machines) for (const p of m.programs) must(Number.isSafeInteger(p.program) && num(p.listPriceCents) && num(p.durationMin), `program ${p.program} has non-numeric figures`);
          const readings: BlockReading[] = [];
          for (const b of d.driver.pollBlocks) {
            const r = await io.withPriority('poll').readBlock(b);
            if (!r.ok) {
              must(!valid, 'a valid unit failed its poll');
              tally.reject(`poll-${r.failure.kind}`);
              return true;
            }
            readings.push(r.value);
          }
          const states = d.driver.decode(readings, 1_800_000_000_000);
          must(states.length === machines.length, `${states.length} states for ${machines.length} machines`);
          for (const s of states) checkState(s, machines);
          extra['machine states decoded'] += states.length;
          tally.accept();
        } catch (e) {
          // The poller and discovery catch ProfileError, and only that: anything else is a crash.
          if (!(e instanceof ProfileError)) throw e;
          must(!valid, () => `a valid unit was refused: ${e.message}`);
          must(e.message.length > 0, 'a ProfileError without a message');
          tally.reject(profileReason(e));
        }
        return true;
      }),
  };

  const commands: FuzzProperty = {
    id: 'modbus.commands',
    weight: 2,
    // What the device answers a credit decides money: a credit is taken as done only when the
    // device showed it (LW-485: its last seq and result 1; RIO-8: the counter moved by the coins),
    // refused (and so refunded) only when it certainly did not run, and a RIO-8 train is written
    // at most once.
    property: () =>
      fc.property(commandCase, (c) => {
        if (c.profile === 'lw485') {
          const { outcome, log } = runLw485(c);
          const trace = (): string => log.join(', ');
          const ours = (code: number): boolean => log.includes(`read ${c.seq}/${code}`);
          const lost = log.some((l) => l === 'write lost');
          if (outcome.status === 'accepted') must(ours(1), () => `accepted without the device showing seq ${c.seq} result 1: ${trace()}`);
          if (outcome.status === 'rejected') {
            const byResult = Object.entries(LW485_REJECTIONS).some(([code, reason]) => reason === outcome.reason && ours(Number(code)));
            must(byResult || !lost, () => `refused (${outcome.reason}) although an earlier write may have run: ${trace()}`);
            must(outcome.detail.length > 0, 'a refusal without a detail');
          }
          if (outcome.status === 'unknown') must(outcome.detail.length > 0, 'unknown without a detail');
          tallyOutcome(outcome);
        } else {
          const { outcome, log, writes, counters } = runRio8(c);
          const trace = (): string => log.join(', ');
          must(writes <= 1, () => `the pulse train was written ${writes} times: ${trace()}`);
          if (outcome.status === 'accepted') {
            const ev = outcome.evidence.profile === 'rio8' ? outcome.evidence : null;
            must(ev !== null && writes === 1 && counters.some((v) => counterDelta(ev.counterBefore, v) >= c.coins), () => `accepted without the counter moving by ${c.coins}: ${trace()}`);
          }
          if (outcome.status === 'rejected' && outcome.reason === 'not_executed') must(log.includes('write lost'), () => `not_executed without a lost write: ${trace()}`);
          if (outcome.status === 'rejected' && writes === 1) must(outcome.reason === 'not_executed' || log.some((l) => l === 'write exception' || l === 'write not-sent'), () => `refused after a write that may have run: ${trace()}`);
          tallyOutcome(outcome);
        }
        return true;
      }),
  };
  const tallyOutcome = (o: CommandOutcome): void => {
    extra['command flows run']++;
    if (o.status === 'accepted') tally.accept();
    else tally.reject(o.status === 'rejected' ? `command-rejected-${o.reason}` : `command-${o.status}`);
  };

  const { runs, violations } = await runProperties(env, [frames, profiles, commands]);
  return { input: 'modbus', title: 'Modbus replies: reply frames through Exchange, register values through the LW-485 and RIO-8 profiles', runs, seconds: (performance.now() - t0) / 1000, tally, extra, violations };
}
