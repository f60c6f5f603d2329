// A serial port that watches its device node and reopens: the one used by the bus transport,
// the card readers and the simulator's serial line.
//
// USB adapters vanish: a loose cable, a brown-out on the hub. On Linux the native binding can
// then spin on 0-byte reads until memory runs out (serialport/bindings-cpp#162, unixRead recurses
// on bytesRead === 0), so we do not wait for the library to notice: we watch the device node
// (async stat, never a sync call on the event loop), close the port ourselves when the node goes
// or is replaced, and reopen with backoff when it is back.
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import { SerialPort } from 'serialport';
import { z } from 'zod';
import { LineFormatSchema, type LineFormat } from '../../protocols/modbus/timing.js';
import type { Logger } from '../core/log.js';
import { Backoff } from '../bus/backoff.js';

export const ReopeningPortOptionsSchema = z.object({
  /** Prefer /dev/serial/by-id/…: the ttyUSBn number changes on replug, the by-id name does not. */
  path: z.string().min(1),
  line: LineFormatSchema.prefault({}),
  /** How often the device node is checked while the port is open. */
  watchIntervalMs: z.number().int().min(20).default(250),
  reopenInitialMs: z.number().int().min(10).default(250),
  reopenMaxMs: z.number().int().min(10).default(10_000),
  /** A close that never calls back (a wedged driver) is given up on after this long. */
  closeGuardMs: z.number().int().min(1).default(2000),
});
export type ReopeningPortOptions = z.input<typeof ReopeningPortOptionsSchema>;
type Resolved = z.output<typeof ReopeningPortOptionsSchema>;

export interface PortUnavailable {
  reason: string;
  /** False: no device node at the path (nothing to open yet); true: the node is there but open failed. */
  nodePresent: boolean;
}

export interface ReopeningPortEvents {
  data: [chunk: Buffer];
  /** Open; `reopened` is false for the first open since open(). */
  up: [info: { reopened: boolean }];
  /** Was up, is not any more; a reopen is scheduled unless close() was called. */
  down: [reason: string];
  /** An open attempt found nothing to open or failed; another is scheduled. */
  unavailable: [info: PortUnavailable];
}

/**
 * The device behind the path, following the by-id symlink: a replug can bring another node at
 * the same name. Device number, inode and the node's own device id, so a replaced pty counts too.
 */
export async function deviceIdentity(path: string): Promise<string | null> {
  try {
    const s = await stat(path);
    return `${s.dev}:${s.ino}:${s.rdev}`;
  } catch {
    return null;
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class ReopeningPort extends EventEmitter<ReopeningPortEvents> {
  readonly path: string;
  readonly line: LineFormat;
  private readonly opts: Resolved;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private port: SerialPort | null = null;
  private openedNode: string | null = null;
  private up = false;
  private wanted = false;
  private everUp = false;
  private reopenTimer: NodeJS.Timeout | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> = Promise.resolve();
  private firstSettled: (() => void) | null = null;

  constructor(options: ReopeningPortOptions, deps: { logger: Logger }) {
    super();
    this.opts = ReopeningPortOptionsSchema.parse(options);
    this.path = this.opts.path;
    this.line = this.opts.line;
    this.log = deps.logger;
    this.backoff = new Backoff({ initialMs: this.opts.reopenInitialMs, maxMs: this.opts.reopenMaxMs });
  }

  get isUp(): boolean {
    return this.up;
  }

  /**
   * Starts opening and keeps the port open (reopening as needed) until close(). Resolves once
   * the first attempt has settled, up or not: a missing device is not fatal. Idempotent.
   */
  open(): Promise<void> {
    if (this.wanted) return Promise.resolve();
    this.wanted = true;
    this.everUp = false;
    this.backoff.reset();
    const settled = new Promise<void>((resolve) => {
      this.firstSettled = resolve;
    });
    this.attempt();
    return settled;
  }

  /** Stops reopening and releases the port; resolves when it is closed (or the guard gave up). */
  async close(): Promise<void> {
    this.wanted = false;
    this.clearTimers();
    this.settleFirst();
    await this.release('closed by the gateway');
    await this.closing;
  }

  /**
   * Writes bytes. With `drain`, resolves once they are on the wire (tcdrain), not just in the
   * kernel's buffer. Rejects when the port is down.
   */
  write(bytes: Buffer, opts: { drain: boolean }): Promise<void> {
    const port = this.port;
    if (!port || !this.up) return Promise.reject(new Error(`${this.path} is down`));
    return new Promise((resolve, reject) => {
      port.write(bytes, (err) => {
        if (err) return reject(new Error(`write failed: ${err.message}`));
        if (!opts.drain) return resolve();
        port.drain((e) => (e ? reject(new Error(`drain failed: ${e.message}`)) : resolve()));
      });
    });
  }

  private settleFirst(): void {
    const resolve = this.firstSettled;
    this.firstSettled = null;
    resolve?.();
  }

  private attempt(): void {
    this.reopenTimer = null;
    if (!this.wanted || this.port) return;
    void this.tryOpen();
  }

  private async tryOpen(): Promise<void> {
    const id = await deviceIdentity(this.path);
    if (!this.wanted || this.port) return;
    if (id === null) {
      // nothing to open yet; do not let serialport spam errors about a missing node
      this.unavailable({ reason: 'device node absent', nodePresent: false });
      return;
    }
    let port: SerialPort;
    try {
      port = new SerialPort({
        path: this.path,
        ...this.line,
        autoOpen: false,
        // the one process that may drive this line: a second gateway (or a stray tool) is refused
        lock: true,
      });
    } catch (e) {
      this.unavailable({ reason: `open failed: ${errText(e)}`, nodePresent: true });
      return;
    }
    this.port = port;
    port.on('data', (chunk: Buffer) => {
      if (this.port === port && this.up) this.emit('data', chunk);
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
        this.unavailable({ reason: `open failed: ${err.message}`, nodePresent: true });
        return;
      }
      if (!this.wanted) {
        void this.release('closed while opening');
        return;
      }
      this.openedNode = id;
      this.up = true;
      const reopened = this.everUp;
      this.everUp = true;
      this.backoff.reset();
      this.startWatch();
      this.log.info({ path: this.path, baudRate: this.line.baudRate, parity: this.line.parity, reopened }, 'serial port up');
      this.emit('up', { reopened });
      this.settleFirst();
    });
  }

  private unavailable(info: PortUnavailable): void {
    this.scheduleReopen(info.reason);
    this.emit('unavailable', info);
    this.settleFirst();
  }

  private startWatch(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = setInterval(() => void this.checkNode(), this.opts.watchIntervalMs);
  }

  private async checkNode(): Promise<void> {
    if (!this.up) return;
    const port = this.port;
    const id = await deviceIdentity(this.path);
    if (!this.up || this.port !== port) return;
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
    if (wasUp) {
      this.log.warn({ path: this.path, reason }, 'serial port down');
      this.emit('down', reason);
    }
    if (port) {
      port.removeAllListeners();
      // late errors from a port we are done with must not become uncaught exceptions
      port.on('error', () => undefined);
      const done = new Promise<void>((resolve) => {
        if (!port.isOpen) return resolve();
        // a close that never calls back (a wedged driver) must not wedge the gateway
        const guard = setTimeout(() => resolve(), this.opts.closeGuardMs);
        port.close((err) => {
          clearTimeout(guard);
          if (err) this.log.debug({ path: this.path, err: errText(err) }, 'closing a lost port failed');
          resolve();
        });
      });
      this.closing = this.closing.then(() => done);
      await done;
    }
  }

  private scheduleReopen(reason: string): void {
    if (!this.wanted || this.reopenTimer) return;
    const delay = this.backoff.next();
    this.log.debug({ path: this.path, reason, retryInMs: delay }, 'serial port reopen scheduled');
    this.reopenTimer = setTimeout(() => this.attempt(), delay);
  }

  private clearTimers(): void {
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = null;
  }
}
