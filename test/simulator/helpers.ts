// A raw Modbus RTU master for the simulator's wire tests: it writes exact bytes and waits (with
// a generous deadline) for exact reply lengths, so framing is tested byte for byte.
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialPort } from 'serialport';
import { encodeRtuRequest, scanRtuReply } from '../../protocols/modbus/rtu.js';
import { decodeReplyPdu, type ModbusReply, type ModbusRequest } from '../../protocols/modbus/pdu.js';

export async function waitFor<T>(what: string, fn: () => T | undefined | null | false, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export class RawMaster {
  rx = Buffer.alloc(0);
  constructor(private readonly send: (b: Buffer) => void) {}

  feed(chunk: Buffer): void {
    this.rx = Buffer.concat([this.rx, chunk]);
  }

  write(bytes: Buffer): void {
    this.send(bytes);
  }

  /** Waits for `n` bytes and takes them off the receive buffer. */
  async take(n: number, ms = 5000): Promise<Buffer> {
    await waitFor(`${n} reply bytes (have ${this.rx.length})`, () => this.rx.length >= n, ms);
    const out = this.rx.subarray(0, n);
    this.rx = this.rx.subarray(n);
    return Buffer.from(out);
  }

  /** Sends a request and returns the decoded reply (a bad frame throws). */
  async request(unit: number, req: ModbusRequest): Promise<ModbusReply> {
    this.write(encodeRtuRequest(unit, req));
    for (;;) {
      const scan = await waitFor('a reply', () => {
        const s = scanRtuReply(unit, req, this.rx);
        return s.status === 'incomplete' ? undefined : s;
      });
      if (scan.status === 'bad') throw new Error(`bad reply: ${scan.reason} ${scan.detail}`);
      this.rx = this.rx.subarray(scan.frame.length);
      return decodeReplyPdu(req, scan.pdu);
    }
  }
}

export async function openSerialMaster(path: string): Promise<{ master: RawMaster; close(): Promise<void> }> {
  const port = new SerialPort({ path, baudRate: 19200, parity: 'even', stopBits: 1, dataBits: 8, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  const master = new RawMaster((b) => port.write(b));
  port.on('data', (c: Buffer) => master.feed(c));
  port.on('error', () => undefined);
  return {
    master,
    close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  };
}

export async function openTcpMaster(port: number): Promise<{ master: RawMaster; socket: Socket; close(): Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.setNoDelay(true);
  const master = new RawMaster((b) => socket.write(b));
  socket.on('data', (c: Buffer) => master.feed(c));
  return {
    master,
    socket,
    close: () =>
      new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      }),
  };
}

export function regs(r: ModbusReply): number[] {
  if (r.kind !== 'registers') throw new Error(`expected registers, got ${JSON.stringify(r)}`);
  return r.registers;
}
