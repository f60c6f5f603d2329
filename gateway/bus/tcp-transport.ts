// A TCP connection to a serial-to-Ethernet converter (RTU over TCP) or a Modbus TCP device
// (MBAP). Reconnects with backoff; a converter that reboots is a normal event, not a crash.
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { z } from 'zod';
import type { Logger } from '../core/log.js';
import { Backoff } from './backoff.js';
import { TransportDownError, type Transport, type TransportEvents } from './transport.js';

export const TcpTransportOptionsSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  connectTimeoutMs: z.number().int().min(10).default(3000),
  reconnectInitialMs: z.number().int().min(10).default(250),
  reconnectMaxMs: z.number().int().min(10).default(10_000),
  /** TCP keep-alive finds a converter that lost power without a FIN. */
  keepAliveMs: z.number().int().min(0).default(10_000),
});
export type TcpTransportOptions = z.input<typeof TcpTransportOptionsSchema>;
type Resolved = z.output<typeof TcpTransportOptionsSchema>;

export class TcpTransport extends EventEmitter<TransportEvents> implements Transport {
  readonly kind = 'tcp' as const;
  readonly description: string;
  private readonly opts: Resolved;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private socket: Socket | null = null;
  private up = false;
  private wanted = false;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(options: TcpTransportOptions, deps: { logger: Logger }) {
    super();
    this.opts = TcpTransportOptionsSchema.parse(options);
    this.description = `tcp ${this.opts.host}:${this.opts.port}`;
    this.log = deps.logger.child({ transport: this.description });
    this.backoff = new Backoff({ initialMs: this.opts.reconnectInitialMs, maxMs: this.opts.reconnectMaxMs });
  }

  get isUp(): boolean {
    return this.up;
  }

  open(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.connect();
  }

  async close(): Promise<void> {
    this.wanted = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const s = this.socket;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.destroy();
    await closed;
  }

  write(frame: Buffer): Promise<void> {
    const s = this.socket;
    if (!s || !this.up) return Promise.reject(new TransportDownError(`${this.description} is down`));
    return new Promise((resolve, reject) => {
      s.write(frame, (err) => (err ? reject(new TransportDownError(`write failed: ${err.message}`)) : resolve()));
    });
  }

  private connect(): void {
    this.reconnectTimer = null;
    if (!this.wanted || this.socket) return;
    const s = new Socket();
    this.socket = s;
    s.setNoDelay(true);
    s.setTimeout(this.opts.connectTimeoutMs, () => s.destroy(new Error('connect timeout')));
    let lastError = '';
    s.on('error', (err) => {
      lastError = err.message;
    });
    s.on('data', (chunk: Buffer) => this.emit('data', chunk));
    s.once('connect', () => {
      s.setTimeout(0);
      if (this.opts.keepAliveMs > 0) s.setKeepAlive(true, this.opts.keepAliveMs);
      this.up = true;
      this.backoff.reset();
      this.log.info('tcp transport up');
      this.emit('up');
    });
    s.once('close', () => {
      s.removeAllListeners('data');
      if (this.socket === s) this.socket = null;
      const wasUp = this.up;
      this.up = false;
      const reason = lastError ? `connection lost: ${lastError}` : 'connection closed';
      if (wasUp) {
        this.log.warn({ reason }, 'tcp transport down');
        this.emit('down', reason);
      }
      if (this.wanted) {
        const delay = this.backoff.next();
        this.log.debug({ reason, retryInMs: delay }, 'tcp reconnect scheduled');
        this.reconnectTimer = setTimeout(() => this.connect(), delay);
      }
    });
    s.connect({ host: this.opts.host, port: this.opts.port });
  }
}
