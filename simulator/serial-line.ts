// The room on a serial port (a socat pty end, or a real USB RS-485 adapter), through the gateway's
// reopening serial port: when the port vanishes (adapter pulled, socat killed) it is closed at
// once and reopened when the path is back; each open gets a fresh RTU slave.
import type { Logger } from '../gateway/core/log.js';
import { ReopeningPort } from '../gateway/serial/reopening-port.js';
import type { LineFormat } from '../protocols/modbus/timing.js';
import { RtuSlave, type SlaveTarget } from './rtu-slave.js';

export interface SerialAttachOptions extends Omit<LineFormat, 'dataBits'> {
  path: string;
  dataBits?: 8;
}

/** The simulator stands in for a test's unplug: it looks for its node again soon. */
const WATCH_MS = 100;
const REOPEN_MAX_MS = 1000;

export class SerialLine {
  private readonly port: ReopeningPort;
  private slave: RtuSlave | null = null;
  private lastFailure = '';

  constructor(
    private readonly target: SlaveTarget,
    o: SerialAttachOptions,
    private readonly logger: Logger,
    private readonly pace?: LineFormat,
  ) {
    const { path, ...line } = o;
    this.port = new ReopeningPort(
      { path, line: { ...line, dataBits: line.dataBits ?? 8 }, watchIntervalMs: WATCH_MS, reopenInitialMs: WATCH_MS, reopenMaxMs: REOPEN_MAX_MS },
      { logger },
    );
    this.port.on('up', () => this.attach());
    this.port.on('down', () => this.detach());
    this.port.on('unavailable', ({ reason }) => {
      this.lastFailure = reason;
    });
    this.port.on('data', (chunk) => this.slave?.onData(chunk));
  }

  /** Resolves once the port is open the first time; rejects when it cannot be opened now. */
  async start(): Promise<void> {
    await this.port.open();
    if (!this.port.isUp) {
      await this.port.close();
      throw new Error(`${this.port.path}: ${this.lastFailure}`);
    }
  }

  get isOpen(): boolean {
    return this.port.isUp;
  }

  private attach(): void {
    this.slave?.close();
    const port = this.port;
    this.slave = new RtuSlave(
      this.target,
      (b) => {
        // undrained: a pty nobody reads would hold a thread-pool thread in tcdrain
        port.write(b, { drain: false }).catch((err: unknown) => this.logger.debug({ err, path: port.path }, 'reply write failed'));
      },
      { logger: this.logger, ...(this.pace ? { pace: this.pace } : {}) },
    );
    this.logger.info({ path: this.port.path }, 'simulator attached to serial port');
  }

  private detach(): void {
    this.slave?.close();
    this.slave = null;
  }

  async close(): Promise<void> {
    this.detach();
    await this.port.close();
  }
}
