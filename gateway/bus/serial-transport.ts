// RS-485 through a USB adapter (or the Pi's UART), with serialport 13.
// USB adapters vanish: a loose cable, a brown-out on the hub. On Linux the native binding can
// then spin on 0-byte reads until memory runs out (serialport/bindings-cpp#162, unixRead recurses
// on bytesRead === 0), so we do not wait for the library to notice: we watch the device node,
// close the port ourselves when it goes or is replaced, and reopen with backoff when it is back.
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import { SerialPort } from 'serialport';
import { z } from 'zod';
import type { Logger } from '../core/log.js';
import { Backoff } from './backoff.js';
import { TransportDownError, type Transport, type TransportEvents } from './transport.js';

export const SerialTransportOptionsSchema = z.object({
  /** Prefer /dev/serial/by-id/…: the ttyUSBn number changes on replug, the by-id name does not. */
  path: z.string().min(1),
  baudRate: z.number().int().positive().default(19200),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  parity: z.enum(['none', 'even', 'odd']).default('even'),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  /** How often the device node is checked while the port is open. */
  watchIntervalMs: z.number().int().min(20).default(250),
  reopenInitialMs: z.number().int().min(10).default(250),
  reopenMaxMs: z.number().int().min(10).default(10_000),
});
export type SerialTransportOptions = z.input<typeof SerialTransportOptionsSchema>;
type Resolved = z.output<typeof SerialTransportOptionsSchema>;

/** Identity of the device behind the path: a replug can bring another node at the same name. */
async function nodeId(path: string): Promise<string | null> {
  try {
    const s = await stat(path);
    return `${s.dev}:${s.ino}:${s.rdev}`;
  } catch {
    return null;
  }
}

const CLOSE_GUARD_MS = 2000;

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class SerialTransport extends EventEmitter<TransportEvents> implements Transport {
  readonly kind = 'serial' as const;
  readonly description: string;
  private readonly opts: Resolved;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private port: SerialPort | null = null;
  private openedNode: string | null = null;
  private up = false;
  private wanted = false;
  private reopenTimer: NodeJS.Timeout | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> = Promise.resolve();

  constructor(options: SerialTransportOptions, deps: { logger: Logger }) {
    super();
    this.opts = SerialTransportOptionsSchema.parse(options);
    this.description = `serial ${this.opts.path}`;
    this.log = deps.logger.child({ transport: this.description });
    this.backoff = new Backoff({ initialMs: this.opts.reopenInitialMs, maxMs: this.opts.reopenMaxMs });
  }

  get isUp(): boolean {
    return this.up;
  }

  open(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.attempt();
  }

  async close(): Promise<void> {
    this.wanted = false;
    this.clearTimers();
    await this.release('closed by the gateway');
    await this.closing;
  }

  write(frame: Buffer): Promise<void> {
    const port = this.port;
    if (!port || !this.up) return Promise.reject(new TransportDownError(`${this.description} is down`));
    return new Promise((resolve, reject) => {
      port.write(frame, (err) => {
        if (err) return reject(new TransportDownError(`write failed: ${err.message}`));
        // tcdrain: the bytes are on the wire, not just in the kernel's buffer
        port.drain((e) => (e ? reject(new TransportDownError(`drain failed: ${e.message}`)) : resolve()));
      });
    });
  }

  private attempt(): void {
    this.reopenTimer = null;
    if (!this.wanted || this.port) return;
    void this.tryOpen();
  }

  private async tryOpen(): Promise<void> {
    const id = await nodeId(this.opts.path);
    if (!this.wanted || this.port) return;
    if (id === null) {
      // nothing to open yet; do not let serialport spam errors about a missing node
      this.scheduleReopen('device node absent');
      return;
    }
    const port = new SerialPort({
      path: this.opts.path,
      baudRate: this.opts.baudRate,
      dataBits: this.opts.dataBits,
      parity: this.opts.parity,
      stopBits: this.opts.stopBits,
      autoOpen: false,
      // a half-duplex bus has nothing to lock against but a second gateway process
      lock: true,
    });
    this.port = port;
    port.on('data', (chunk: Buffer) => {
      if (this.port === port) this.emit('data', chunk);
    });
    port.on('error', (err: Error) => {
      if (this.port === port) void this.lose(`port error: ${err.message}`);
    });
    port.on('close', (err: Error | null) => {
      if (this.port === port) void this.lose(err ? `port closed: ${err.message}` : 'port closed');
    });
    port.open((err) => {
      if (this.port !== port) {
        // close() or a loss came while the open was in flight: do not leak the descriptor
        if (!err) port.close(() => undefined);
        return;
      }
      if (err) {
        this.port = null;
        port.removeAllListeners();
        port.on('error', () => undefined);
        this.scheduleReopen(`open failed: ${err.message}`);
        return;
      }
      if (!this.wanted) {
        void this.release('closed while opening');
        return;
      }
      this.openedNode = id;
      this.up = true;
      this.backoff.reset();
      this.startWatch();
      this.log.info({ baudRate: this.opts.baudRate, parity: this.opts.parity }, 'serial port up');
      this.emit('up');
    });
  }

  private startWatch(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = setInterval(() => void this.checkNode(), this.opts.watchIntervalMs);
  }

  private async checkNode(): Promise<void> {
    if (!this.up) return;
    const id = await nodeId(this.opts.path);
    if (!this.up) return;
    if (id === null) await this.lose('device node gone');
    else if (id !== this.openedNode) await this.lose('device node replaced');
  }

  /** The port failed under us: release it and come back later. */
  private async lose(reason: string): Promise<void> {
    if (!this.port) return;
    await this.release(reason);
    if (this.wanted) this.scheduleReopen(reason);
  }

  private async release(reason: string): Promise<void> {
    const port = this.port;
    this.port = null;
    this.openedNode = null;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = null;
    const wasUp = this.up;
    this.up = false;
    if (port) {
      port.removeAllListeners();
      // late errors from a port we are done with must not become uncaught exceptions
      port.on('error', () => undefined);
      const done = new Promise<void>((resolve) => {
        if (!port.isOpen) return resolve();
        // a close that never calls back (a wedged driver) must not wedge the gateway
        const guard = setTimeout(() => resolve(), CLOSE_GUARD_MS);
        port.close((err) => {
          clearTimeout(guard);
          if (err) this.log.debug({ err: errText(err) }, 'closing a lost port failed');
          resolve();
        });
      });
      this.closing = this.closing.then(() => done);
      await done;
    }
    if (wasUp) {
      this.log.warn({ reason }, 'serial port down');
      this.emit('down', reason);
    }
  }

  private scheduleReopen(reason: string): void {
    if (!this.wanted || this.reopenTimer) return;
    const delay = this.backoff.next();
    this.log.debug({ reason, retryInMs: delay }, 'serial port reopen scheduled');
    this.reopenTimer = setTimeout(() => this.attempt(), delay);
  }

  private clearTimers(): void {
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = null;
  }
}
