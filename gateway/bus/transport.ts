// What the bus master needs from a wire: bytes out, bytes in, and whether the wire is there.
// A transport keeps trying to (re)open itself after open() until close(); the master never
// opens ports, it only sees 'up' and 'down'.
import type { EventEmitter } from 'node:events';

export interface TransportEvents {
  data: [chunk: Buffer];
  up: [];
  down: [reason: string];
}

export interface Transport extends Pick<EventEmitter<TransportEvents>, 'on' | 'off' | 'once'> {
  /** For logs: "serial /dev/serial/by-id/usb-FTDI…" or "tcp 10.0.0.7:502". */
  readonly description: string;
  readonly kind: 'serial' | 'tcp';
  /** True between 'up' and 'down'. */
  readonly isUp: boolean;
  /** Starts opening; on failure or loss retries with backoff until close(). Idempotent. */
  open(): void;
  /** Stops retrying, closes the port or socket, resolves when it is released. Idempotent. */
  close(): Promise<void>;
  /**
   * Resolves when the bytes have left the process (serial: after tcdrain, so a reply timer
   * started afterwards does not count our own transmit time). Rejects when the wire is down.
   */
  write(frame: Buffer): Promise<void>;
}

export class TransportDownError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportDownError';
  }
}
