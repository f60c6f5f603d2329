// Caps on the status page's TCP connections, in total and per client (clientKey), so a flood of
// half-open or idle connections cannot use up the process's file descriptors and take the
// control socket, the ledger and the bus down with it. At the total cap a new connection closes
// the oldest idle one (no request under way) of the client holding the most, so whoever floods
// pays for it and a newcomer still gets in; only when every connection is busy is it refused.
// Refusals are logged once a minute at most and counted for /metrics.
import type { Socket } from 'node:net';
import type { RefusalLog } from '../core/refusal-log.js';
import { clientKey } from './client-key.js';

interface Conn {
  key: string;
  /** Requests under way on it (an SSE stream counts until it closes). */
  active: number;
}

const REFUSAL = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nRetry-After: 10\r\nContent-Length: ';

export class ConnectionGuard {
  /** Oldest first. */
  private readonly conns = new Map<Socket, Conn>();
  private readonly perKey = new Map<string, number>();

  constructor(private readonly o: { max: number; perClient: number; refusals: RefusalLog }) {}

  get size(): number {
    return this.conns.size;
  }

  /** On every new connection: keeps it (true) or answers 503 and closes it at once. */
  admit(socket: Socket): boolean {
    const key = clientKey(socket.remoteAddress);
    if ((this.perKey.get(key) ?? 0) >= this.o.perClient) {
      this.o.refusals.note('per_client', 'web: connection refused, this client has too many open', { client: key, perClient: this.o.perClient });
      return this.refuse(socket, `too many connections from this address (at most ${this.o.perClient})\n`);
    }
    if (this.conns.size >= this.o.max && !this.evictIdle()) {
      this.o.refusals.note('total', 'web: connection refused, every connection is busy', { client: key, max: this.o.max });
      return this.refuse(socket, `the status page is at its connection limit (${this.o.max}); try again shortly\n`);
    }
    this.conns.set(socket, { key, active: 0 });
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    socket.once('close', () => this.forget(socket));
    return true;
  }

  /** A request started (+1) or ended (-1) on this connection. */
  activity(socket: Socket, delta: 1 | -1): void {
    const c = this.conns.get(socket);
    if (c) c.active = Math.max(0, c.active + delta);
  }

  private evictIdle(): boolean {
    let worst: string | null = null;
    let most = 0;
    for (const [k, n] of this.perKey) if (n > most) [worst, most] = [k, n];
    let victim: Socket | null = null;
    for (const [s, c] of this.conns) {
      if (c.active > 0) continue;
      if (c.key === worst) {
        victim = s;
        break;
      }
      victim ??= s;
    }
    if (victim === null) return false;
    const key = this.conns.get(victim)?.key ?? 'unknown';
    this.o.refusals.note('evicted', 'web: at the connection cap, closed the oldest idle connection of the busiest client', { client: key, max: this.o.max });
    this.forget(victim);
    victim.destroy();
    return true;
  }

  private forget(socket: Socket): void {
    const c = this.conns.get(socket);
    if (!c) return;
    this.conns.delete(socket);
    const n = (this.perKey.get(c.key) ?? 1) - 1;
    if (n <= 0) this.perKey.delete(c.key);
    else this.perKey.set(c.key, n);
  }

  private refuse(socket: Socket, text: string): false {
    socket.on('error', () => undefined);
    // Written straight into the kernel's buffer, then the descriptor is freed at once: a
    // half-open client that never reads cannot hold it.
    socket.write(`${REFUSAL}${Buffer.byteLength(text)}\r\n\r\n${text}`);
    socket.destroy();
    return false;
  }
}
