// A minimal strict Modbus slave for the bus tests, built on the shared codecs: drops frames with
// a bad CRC, ignores other units, answers fc 3/4/6/16 from a register array. Per-unit faults
// (offline, corrupt, drop, delay, garbage) are set by the test, like the simulator's control API.
import { createServer, type Server, type Socket } from 'node:net';
import { SerialPort } from 'serialport';
import { crcOk } from '../../protocols/modbus/crc.js';
import { decodeRequestPdu, encodeReplyPdu, type ModbusReply } from '../../protocols/modbus/pdu.js';
import { encodeRtuReply, rtuRequestLength } from '../../protocols/modbus/rtu.js';
import { encodeMbap, scanMbap } from '../../protocols/modbus/tcp.js';

const REGS = 1024;

interface Faults {
  hold: boolean;
  held: Array<() => void>;
  offline: boolean;
  corrupt: number;
  drop: number;
  delay: { ms: number; n: number };
  dribble: { gapMs: number; n: number };
}

export class Responder {
  readonly requests = new Map<number, number>();
  private readonly regs = new Map<number, Uint16Array>();
  private readonly faults = new Map<number, Faults>();
  private port: SerialPort | null = null;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** Milliseconds between the end of a request and the reply. */
  turnaroundMs = 0;

  constructor(units: number[]) {
    for (const u of units) {
      const r = new Uint16Array(REGS);
      for (let i = 0; i < REGS; i++) r[i] = (u * 1000 + i) & 0xffff;
      this.regs.set(u, r);
      this.faults.set(u, { hold: false, held: [], offline: false, corrupt: 0, drop: 0, delay: { ms: 0, n: 0 }, dribble: { gapMs: 0, n: 0 } });
    }
  }

  register(unit: number, addr: number): number {
    return this.regs.get(unit)?.[addr] ?? -1;
  }

  private f(unit: number): Faults {
    const f = this.faults.get(unit);
    if (!f) throw new Error(`no unit ${unit}`);
    return f;
  }
  setOffline(unit: number, offline: boolean): void {
    this.f(unit).offline = offline;
  }
  corruptReplies(unit: number, n: number): void {
    this.f(unit).corrupt = n;
  }
  dropReplies(unit: number, n: number): void {
    this.f(unit).drop = n;
  }
  delayReplies(unit: number, ms: number, n: number): void {
    this.f(unit).delay = { ms, n };
  }
  /** The unit's next n replies go out one byte per write, gapMs apart: a reply read in many pieces. */
  dribbleReplies(unit: number, n: number, gapMs: number): void {
    this.f(unit).dribble = { gapMs, n };
  }
  /**
   * Holds the unit's next reply until the returned function is called: a late reply whose moment
   * the test chooses, instead of a race between two timers on a busy machine.
   */
  holdNextReply(unit: number): () => void {
    const f = this.f(unit);
    f.hold = true;
    return () => {
      f.hold = false;
      for (const send of f.held.splice(0)) send();
    };
  }
  /** Raw bytes onto the line, unasked. */
  garbage(bytes: Buffer): void {
    this.port?.write(bytes);
    for (const s of this.sockets) s.write(bytes);
  }

  /** The PDU answer, or null when a real device would stay silent. */
  private answer(unit: number, pdu: Buffer): Buffer | null {
    const regs = this.regs.get(unit);
    if (!regs) return null;
    this.requests.set(unit, (this.requests.get(unit) ?? 0) + 1);
    const d = decodeRequestPdu(pdu);
    if (!d.ok) return encodeReplyPdu({ kind: 'exception', fc: d.fc, code: d.exception });
    const req = d.request;
    const exc = (code: number): Buffer => encodeReplyPdu({ kind: 'exception', fc: req.fc, code });
    let reply: ModbusReply;
    switch (req.fc) {
      case 3:
      case 4:
        if (req.address + req.quantity > REGS) return exc(2);
        reply = { kind: 'registers', fc: req.fc, registers: [...regs.subarray(req.address, req.address + req.quantity)] };
        break;
      case 6:
        if (req.address >= REGS) return exc(2);
        regs[req.address] = req.value;
        reply = { kind: 'register-written', fc: 6, address: req.address, value: req.value };
        break;
      case 16:
        if (req.address + req.values.length > REGS) return exc(2);
        req.values.forEach((v, i) => (regs[req.address + i] = v));
        reply = { kind: 'registers-written', fc: 16, address: req.address, quantity: req.values.length };
        break;
      default:
        return exc(1);
    }
    return encodeReplyPdu(reply);
  }

  /** Applies the unit's faults and sends `frame` (already framed) through `send`. */
  private deliver(unit: number, frame: Buffer, send: (b: Buffer) => void): void {
    const f = this.f(unit);
    if (f.offline) return;
    if (f.drop > 0) {
      f.drop -= 1;
      return;
    }
    let out = frame;
    if (f.corrupt > 0) {
      f.corrupt -= 1;
      out = Buffer.from(frame);
      out[out.length - 1] = (out.readUInt8(out.length - 1) ^ 0x5a) & 0xff;
    }
    let emit = send;
    if (f.dribble.n > 0) {
      f.dribble.n -= 1;
      const gap = f.dribble.gapMs;
      emit = (b: Buffer): void => {
        for (let i = 0; i < b.length; i++) setTimeout(() => send(b.subarray(i, i + 1)), i * gap);
      };
    }
    if (f.hold) {
      f.hold = false;
      f.held.push(() => emit(out));
      return;
    }
    let delay = this.turnaroundMs;
    if (f.delay.n > 0) {
      f.delay.n -= 1;
      delay = f.delay.ms;
    }
    if (delay > 0) setTimeout(() => emit(out), delay);
    else setImmediate(() => emit(out));
  }

  private onRtu(rx: Buffer, send: (b: Buffer) => void): Buffer {
    for (;;) {
      const len = rtuRequestLength(rx);
      if (len === undefined) return rx;
      if (len === null) return Buffer.alloc(0);
      if (rx.length < len) return rx;
      const frame = rx.subarray(0, len);
      rx = rx.subarray(len);
      if (!crcOk(frame)) return Buffer.alloc(0);
      const unit = frame.readUInt8(0);
      const pdu = this.answer(unit, Buffer.from(frame.subarray(1, len - 2)));
      if (pdu) this.deliver(unit, encodeRtuReply(unit, pdu), send);
    }
  }

  async attachSerial(path: string): Promise<void> {
    const port = new SerialPort({ path, baudRate: 19200, parity: 'even', autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on('error', () => undefined);
    this.port = port;
    let rx: Buffer = Buffer.alloc(0);
    let idle: NodeJS.Timeout | null = null;
    const send = (b: Buffer): void => {
      if (port.isOpen) port.write(b);
    };
    port.on('data', (chunk: Buffer) => {
      rx = this.onRtu(Buffer.concat([rx, chunk]), send);
      // a strict slave resynchronises on silence: a partial frame older than this is dropped
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => (rx = Buffer.alloc(0)), 20);
    });
    port.on('close', () => {
      if (idle) clearTimeout(idle);
    });
  }

  async detachSerial(): Promise<void> {
    const p = this.port;
    this.port = null;
    if (p?.isOpen) await new Promise<void>((r) => p.close(() => r()));
  }

  async listenTcp(framing: 'rtu' | 'mbap', port = 0): Promise<number> {
    const server = createServer((sock) => {
      this.sockets.add(sock);
      // each write its own segment, as a converter sends what its UART gives it (dribbleReplies)
      sock.setNoDelay(true);
      sock.on('error', () => undefined);
      sock.on('close', () => this.sockets.delete(sock));
      let rx: Buffer = Buffer.alloc(0);
      const send = (b: Buffer): void => {
        if (!sock.destroyed) sock.write(b);
      };
      sock.on('data', (chunk: Buffer) => {
        rx = Buffer.concat([rx, chunk]);
        if (framing === 'rtu') {
          rx = this.onRtu(rx, send);
          return;
        }
        for (;;) {
          const scan = scanMbap(rx);
          if (scan.status === 'incomplete') return;
          if (scan.status === 'bad') {
            sock.destroy();
            return;
          }
          rx = rx.subarray(scan.size);
          const pdu = this.answer(scan.unit, scan.pdu);
          if (pdu) this.deliver(scan.unit, encodeMbap(scan.transactionId, scan.unit, pdu), send);
        }
      });
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    return addr.port;
  }

  async close(): Promise<void> {
    await this.detachSerial();
    for (const s of this.sockets) s.destroy();
    const srv = this.server;
    this.server = null;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }
}
