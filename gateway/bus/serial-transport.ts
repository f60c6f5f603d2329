// RS-485 through a USB adapter (or the Pi's UART): the bus master's transport over the one
// reopening serial port (gateway/serial/reopening-port.ts), which watches the device node and
// reopens with backoff. This file only maps it onto the Transport interface.
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { LineFormatSchema, type LineFormat } from '../../protocols/modbus/timing.js';
import type { Logger } from '../core/log.js';
import { ReopeningPort, ReopeningPortOptionsSchema } from '../serial/reopening-port.js';
import { TransportDownError, type Transport, type TransportEvents } from './transport.js';

export const SerialTransportOptionsSchema = LineFormatSchema.extend(
  ReopeningPortOptionsSchema.pick({ path: true, watchIntervalMs: true, reopenInitialMs: true, reopenMaxMs: true }).shape,
);
export type SerialTransportOptions = z.input<typeof SerialTransportOptionsSchema>;

export class SerialTransport extends EventEmitter<TransportEvents> implements Transport {
  readonly kind = 'serial' as const;
  readonly description: string;
  /** The line format the port is opened with; the master's t3.5 comes from it too. */
  readonly line: LineFormat;
  private readonly port: ReopeningPort;

  constructor(options: SerialTransportOptions, deps: { logger: Logger }) {
    super();
    const o = SerialTransportOptionsSchema.parse(options);
    this.description = `serial ${o.path}`;
    const { path, watchIntervalMs, reopenInitialMs, reopenMaxMs, ...line } = o;
    this.line = line;
    this.port = new ReopeningPort({ path, line, watchIntervalMs, reopenInitialMs, reopenMaxMs }, { logger: deps.logger.child({ transport: this.description }) });
    this.port.on('data', (chunk) => this.emit('data', chunk));
    this.port.on('up', () => this.emit('up'));
    this.port.on('down', (reason) => this.emit('down', reason));
  }

  get isUp(): boolean {
    return this.port.isUp;
  }

  open(): void {
    void this.port.open();
  }

  close(): Promise<void> {
    return this.port.close();
  }

  write(frame: Buffer): Promise<void> {
    // drained: the reply timer starts when our bytes are on the wire, not in the kernel's buffer
    return this.port.write(frame, { drain: true }).catch((e: unknown) => {
      throw new TransportDownError(e instanceof Error ? e.message : String(e));
    });
  }
}
