// The Server-Sent Events hub behind /api/events: one response per open page, a snapshot on
// connect, then machine, tick, health, vend, alert and feedback events. A client that stops
// reading is dropped rather than buffered without bound (a phone left asleep).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../core/log.js';
import { SECURITY_HEADERS } from './http.js';
import type { SseEvent } from './status-schema.js';

const MAX_BUFFERED_BYTES = 512 * 1024;

export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly perClient = new Map<string, number>();
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(private readonly o: { maxClients: number; maxPerClient: number; heartbeatMs: number; logger: Logger; onCountChange: (n: number) => void }) {}

  get size(): number {
    return this.clients.size;
  }

  start(): void {
    // A comment line keeps proxies and phones from closing an idle stream.
    this.heartbeat = setInterval(() => this.writeAll(': keep-alive\n\n'), this.o.heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * Opens the stream and sends `first` (the snapshot) before any other event. 'full': all streams
   * are taken; 'client_full': this client (clientKey) has its share open already.
   */
  attach(req: IncomingMessage, res: ServerResponse, client: string, first: () => SseEvent): 'ok' | 'full' | 'client_full' {
    if ((this.perClient.get(client) ?? 0) >= this.o.maxPerClient) return 'client_full';
    if (this.clients.size >= this.o.maxClients) return 'full';
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 3000\n\n');
    res.write(frame(first()));
    this.clients.add(res);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
    this.o.onCountChange(this.clients.size);
    let counted = true;
    const drop = (): void => {
      if (counted) {
        counted = false;
        const n = (this.perClient.get(client) ?? 1) - 1;
        if (n <= 0) this.perClient.delete(client);
        else this.perClient.set(client, n);
      }
      if (this.clients.delete(res)) this.o.onCountChange(this.clients.size);
    };
    req.on('close', drop);
    res.on('close', drop);
    res.on('error', drop);
    return 'ok';
  }

  send(e: SseEvent): void {
    if (this.clients.size === 0) return;
    this.writeAll(frame(e));
  }

  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.perClient.clear();
    this.o.onCountChange(0);
  }

  private writeAll(text: string): void {
    for (const res of this.clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        this.o.logger.info({ buffered: res.writableLength }, 'web: dropping an event client that stopped reading');
        this.clients.delete(res);
        this.o.onCountChange(this.clients.size);
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }
}

function frame(e: SseEvent): string {
  // JSON.stringify never emits a raw newline, so one data: line is always enough.
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}
