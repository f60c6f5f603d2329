// The room on a serial port (a socat pty end, or a real USB RS-485 adapter). The port may vanish
// (adapter pulled, socat killed): we watch the device node ourselves, close the port at once
// (serialport's binding can spin on a dead fd, see PITFALLS) and reopen when the path is back.
import { statSync } from 'node:fs';
import { SerialPort } from 'serialport';
import type { Logger } from '../gateway/core/log.js';
import type { LineFormat } from '../protocols/modbus/timing.js';
import { RtuSlave, type SlaveTarget } from './rtu-slave.js';

export interface SerialAttachOptions {
  path: string;
  baudRate: number;
  parity: 'none' | 'even' | 'odd';
  stopBits: 1 | 2;
  dataBits?: 8;
}

const WATCH_MS = 100;

/** Identity of the device node behind a path (a replugged pty is a new node at the same link). */
function nodeId(path: string): string | null {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.rdev}`;
  } catch {
    return null;
  }
}

export class SerialLine {
  private port: SerialPort | null = null;
  private slave: RtuSlave | null = null;
  private openedId: string | null = null;
  private opening = false;
  private stopped = false;
  private watch: NodeJS.Timeout | null = null;

  constructor(
    private readonly target: SlaveTarget,
    private readonly o: SerialAttachOptions,
    private readonly logger: Logger,
    private readonly pace?: LineFormat,
  ) {}

  /** Resolves once the port is open the first time. */
  async start(): Promise<void> {
    await this.open();
    this.watch = setInterval(() => this.check(), WATCH_MS);
  }

  get isOpen(): boolean {
    return this.port !== null;
  }

  private async open(): Promise<void> {
    this.opening = true;
    const id = nodeId(this.o.path);
    const port = new SerialPort({
      path: this.o.path,
      baudRate: this.o.baudRate,
      parity: this.o.parity,
      stopBits: this.o.stopBits,
      dataBits: this.o.dataBits ?? 8,
      autoOpen: false,
    });
    try {
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    } finally {
      this.opening = false;
    }
    if (this.stopped) {
      port.close(() => undefined);
      return;
    }
    const slave = new RtuSlave(this.target, (b) => port.write(b), { logger: this.logger, ...(this.pace ? { pace: this.pace } : {}) });
    port.on('data', (chunk: Buffer) => slave.onData(chunk));
    port.on('error', (err) => {
      this.logger.warn({ err, path: this.o.path }, 'serial port error');
      this.drop(port);
    });
    port.on('close', () => this.drop(port));
    this.port = port;
    this.slave = slave;
    this.openedId = id;
    this.logger.info({ path: this.o.path }, 'simulator attached to serial port');
  }

  private drop(port: SerialPort): void {
    if (this.port !== port) return;
    this.slave?.close();
    this.port = null;
    this.slave = null;
    this.openedId = null;
    if (port.isOpen) port.close(() => undefined);
    if (!this.stopped) this.logger.warn({ path: this.o.path }, 'serial port gone, waiting for it to come back');
  }

  private check(): void {
    if (this.stopped || this.opening) return;
    const id = nodeId(this.o.path);
    if (this.port) {
      if (id !== this.openedId) this.drop(this.port);
      return;
    }
    if (id !== null) {
      this.open().catch((err: unknown) => this.logger.debug({ err, path: this.o.path }, 'reopen failed, will retry'));
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.watch) clearInterval(this.watch);
    this.slave?.close();
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
