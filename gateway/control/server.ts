// The control socket: a Unix stream socket speaking one JSON request per line, one JSON response
// per line. File permissions are the access control (0660, the service user and group), as with
// the Docker or libvirt sockets. A feature with start()/stop(), built from a ControlTarget.
import { existsSync, lstatSync, mkdirSync, chmodSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { RefusalLog } from '../core/refusal-log.js';
import { ControlError, handle } from './handlers.js';
import { MAX_REQUEST_BYTES, controlRequestSchema, requestIdSchema, type ControlResponse } from './protocol.js';
import type { ControlTarget } from './target.js';

export const controlServerOptionsSchema = z.strictObject({
  socketPath: z.string().startsWith('/'),
  /** 0660: the service user and its group (operators are added to it). */
  mode: z.int().min(0).max(0o777).default(0o660),
  /**
   * At this many, a new connection closes the oldest one that is idle (or stalled, not reading its
   * answers) to make room, so an operator's CLI always gets in; only when all are busy is it refused.
   */
  maxConnections: z.int().min(1).max(64).default(8),
  /** A client with nothing in progress that sends nothing for this long is dropped. */
  idleTimeoutMs: z.int().min(100).max(3_600_000).default(10_000),
});
export type ControlServerOptions = z.input<typeof controlServerOptionsSchema>;

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const done = (alive: boolean): void => {
      s.destroy();
      resolve(alive);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

/** Another live process answers on the socket path: almost surely a second gateway instance. */
export class ControlSocketInUseError extends Error {
  constructor(path: string) {
    super(`control: another process is listening on ${path} (is the gateway already running?)`);
    this.name = 'ControlSocketInUseError';
  }
}

interface ConnState {
  /** idle: nothing queued; serving: a request is being answered; flushing: waiting for the client to read. */
  phase: 'idle' | 'serving' | 'flushing';
}

/** Resolves once the socket's write buffer has drained (or it is gone). */
function drained(c: Socket): Promise<void> {
  if (c.destroyed || !c.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      c.off('drain', done);
      c.off('close', done);
      resolve();
    };
    c.once('drain', done);
    c.once('close', done);
  });
}

export class ControlServer {
  private readonly o: z.output<typeof controlServerOptionsSchema>;
  private readonly log: Logger;
  private server: Server | null = null;
  /** Oldest first (Map keeps insertion order), with what each is doing. */
  private readonly conns = new Map<Socket, ConnState>();
  private readonly refusals: RefusalLog;
  private requests = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly scan = { running: false };
  private stopping = false;
  private startedAtMs = 0;

  constructor(
    private readonly target: ControlTarget,
    options: ControlServerOptions,
    private readonly deps: { logger: Logger; clock: Clock },
  ) {
    this.o = controlServerOptionsSchema.parse(options);
    this.log = deps.logger.child({ component: 'control' });
    this.refusals = new RefusalLog({ logger: this.log, clock: deps.clock });
  }

  /** Connections open now, and refusals and evictions since start by reason. */
  stats(): { connections: number; requests: number; refused: Record<string, number> } {
    return { connections: this.conns.size, requests: this.requests, refused: this.refusals.counts() };
  }

  get socketPath(): string {
    return this.o.socketPath;
  }

  async start(): Promise<void> {
    if (this.server) return;
    this.stopping = false;
    this.startedAtMs = this.deps.clock.now();
    const path = this.o.socketPath;
    mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new Error(`control: ${path} exists and is not a socket; not touching it`);
      if (await probe(path)) throw new ControlSocketInUseError(path);
      // left behind by a crash: nobody answers on it
      unlinkSync(path);
    }
    const server = createServer((c) => this.accept(c));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, this.o.mode);
    server.on('error', (e) => this.log.error({ err: e.message }, 'control socket error'));
    this.server = server;
    this.log.info({ path, mode: this.o.mode.toString(8) }, 'control socket listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.stopping = true;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Commands under way finish (a bus request is short; a scan ends after its current unit).
    await Promise.allSettled([...this.inFlight]);
    for (const c of this.conns.keys()) c.destroy();
    await closed;
    try {
      unlinkSync(this.o.socketPath);
    } catch {
      // already gone (net usually unlinks it on close)
    }
    this.log.info('control socket closed');
  }

  private accept(c: Socket): void {
    if (!this.makeRoom(c)) return;
    const st: ConnState = { phase: 'idle' };
    this.conns.set(c, st);
    let buf = '';
    let gone = false;
    /** Lines to answer in order; null stands for a line over the limit: answered, then the connection closes. */
    const queue: Array<string | null> = [];
    let refusing = false;
    c.setEncoding('utf8');
    // Only a connection with nothing under way is dropped for silence: a bus scan in progress
    // writes nothing for seconds; a client that stopped reading its answers is dropped too.
    c.setTimeout(this.o.idleTimeoutMs, () => {
      if (st.phase === 'serving') return;
      this.refusals.note(st.phase === 'idle' ? 'idle_timeout' : 'not_reading', 'control: connection dropped', { phase: st.phase, idleTimeoutMs: this.o.idleTimeoutMs });
      c.destroy();
    });
    c.on('close', () => {
      gone = true;
      this.conns.delete(c);
    });
    c.on('error', () => undefined);
    const send = (r: ControlResponse): void => {
      if (!c.destroyed) c.write(`${JSON.stringify(r)}\n`);
    };
    // One request at a time per connection, answered in order; reading stops while any is
    // queued and resumes only once the last answer has left, so a client that pipelines
    // requests without reading the answers holds at most one read chunk and one answer here.
    const pump = async (): Promise<void> => {
      if (st.phase !== 'idle') return;
      while (queue.length > 0 && !gone) {
        const line = queue.shift();
        if (line === undefined) break;
        if (line === null) {
          st.phase = 'flushing';
          this.refuseTooLarge(c, send);
          return;
        }
        st.phase = 'serving';
        this.requests++;
        const p = this.serve(line, send, () => gone || this.stopping);
        this.inFlight.add(p);
        await p.finally(() => this.inFlight.delete(p));
        st.phase = 'flushing';
        await drained(c);
      }
      st.phase = 'idle';
      if (!gone && !this.stopping) c.resume();
    };
    c.on('data', (chunk: string) => {
      if (refusing) return;
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0 && !refusing) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (Buffer.byteLength(line) > MAX_REQUEST_BYTES) refusing = true;
        else if (line.trim() !== '') queue.push(line);
      }
      if (!refusing && Buffer.byteLength(buf) > MAX_REQUEST_BYTES) refusing = true;
      if (refusing) {
        // what came before is answered first, in order; nothing after it is read
        buf = '';
        queue.push(null);
      }
      if (queue.length > 0) {
        c.pause();
        void pump();
      }
    });
  }

  /**
   * Room for one more connection: under the cap, or by closing the oldest connection that has
   * nothing under way (idle, or stalled because its client does not read). False when every
   * connection is busy serving: the newcomer is told so and closed.
   */
  private makeRoom(c: Socket): boolean {
    if (this.conns.size < this.o.maxConnections) return true;
    for (const [old, st] of this.conns) {
      if (st.phase === 'serving') continue;
      this.refusals.note('evicted', 'control: at the connection cap, closed the oldest idle connection for a new one', { max: this.o.maxConnections, phase: st.phase });
      this.conns.delete(old);
      old.destroy();
      return true;
    }
    this.refusals.note('busy', 'control: connection refused, every connection is busy', { max: this.o.maxConnections });
    c.on('error', () => undefined);
    c.end(`${JSON.stringify({ id: null, ok: false, error: { code: 'busy', message: `all ${this.o.maxConnections} control connections are busy; try again shortly` } } satisfies ControlResponse)}\n`);
    return false;
  }

  private refuseTooLarge(c: Socket, send: (r: ControlResponse) => void): void {
    this.refusals.note('too_large', 'control request too large: connection closed', { limit: MAX_REQUEST_BYTES });
    send({ id: null, ok: false, error: { code: 'too_large', message: `a request line is at most ${MAX_REQUEST_BYTES} bytes` } });
    c.end();
    c.pause();
  }

  private async serve(line: string, send: (r: ControlResponse) => void, aborted: () => boolean): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      send({ id: null, ok: false, error: { code: 'bad_request', message: 'not a JSON line' } });
      return;
    }
    const parsed = controlRequestSchema.safeParse(raw);
    const rawId = typeof raw === 'object' && raw !== null && 'id' in raw ? raw.id : undefined;
    // Echoed only when it is a valid id: an answer carrying -5e-324 or a 100-character id would be
    // of unknown shape to the CLI (found by the control fuzz).
    const validId = requestIdSchema.safeParse(rawId);
    const id = validId.success ? validId.data : null;
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`).join('; ');
      send({ id, ok: false, error: { code: 'bad_request', message } });
      return;
    }
    const req = parsed.data;
    if (this.stopping) {
      send({ id, ok: false, error: { code: 'shutting_down', message: 'the gateway is stopping' } });
      return;
    }
    try {
      const result = await handle({ target: this.target, logger: this.log, clock: this.deps.clock, startedAtMs: this.startedAtMs, aborted, scan: this.scan }, req);
      send({ id, ok: true, result });
    } catch (e) {
      if (e instanceof ControlError) {
        send({ id, ok: false, error: { code: e.code, message: e.message } });
        return;
      }
      if (e instanceof z.ZodError) {
        send({ id, ok: false, error: { code: 'bad_request', message: e.issues.map((i) => i.message).join('; ') } });
        return;
      }
      const message = e instanceof Error ? e.message : String(e);
      this.log.error({ cmd: req.cmd, err: message }, 'control command failed');
      send({ id, ok: false, error: { code: 'failed', message } });
    }
  }
}
