// The owner of one bus. Jobs wait in a queue keyed per unit; a single loop takes the most urgent
// one and puts it on the wire, so exactly one request is in flight. Every reply is checked
// against its request; after a timeout or a bad frame the line is drained until quiet, so a
// late reply is never taken for the answer to the next request. A breaker per unit keeps a
// dead machine from costing the live ones a timeout per cycle.
import { EventEmitter } from 'node:events';
import { checkRequest, describeRequest, EXCEPTION_NAMES, type ModbusRequest } from '../../protocols/modbus/pdu.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { CircuitBreaker } from './breaker.js';
import { Exchange } from './exchange.js';
import { resolveBusMasterOptions, type BusMasterOptions, type ResolvedBusMasterOptions } from './options.js';
import { UnitQueue } from './queue.js';
import { UnitStatsTracker, type BusStats, type BusUnitStats } from './stats.js';
import type { Transport } from './transport.js';
import type { BusClient, BusPriority, BusRequestOptions, BusResult } from './types.js';

export interface BusMasterEvents {
  'unit-offline': [info: { unit: number; consecutiveFailures: number; retryInMs: number }];
  'unit-online': [info: { unit: number; offlineForMs: number }];
  'port-up': [];
  'port-down': [info: { reason: string }];
}

interface Job {
  unit: number;
  priority: BusPriority;
  request: ModbusRequest;
  timeoutMs: number;
  resolve: (r: BusResult) => void;
}

type Outcome =
  | { kind: 'reply'; result: BusResult; exception: boolean; trailing: boolean; latencyMs: number }
  | { kind: 'timeout' | 'bad-frame' | 'port-down'; detail: string; sent: boolean };

/** The exchange on the wire: one object per request, no closures of its own. */
interface Active {
  ex: Exchange;
  t0: number;
  timeoutMs: number;
  timer: NodeJS.Timeout | null;
  resolve: (o: Outcome) => void;
}

interface UnitState {
  breaker: CircuitBreaker;
  stats: UnitStatsTracker;
}

/** Same ceiling as the options schema: no exchange on a Modbus line legitimately takes longer. */
const MAX_TIMEOUT_MS = 60_000;

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A plain timer promise: node:timers/promises' setTimeout checks an options object on every call. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class BusMaster extends EventEmitter<BusMasterEvents> implements BusClient {
  readonly busId: string;
  readonly options: ResolvedBusMasterOptions;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly queue = new UnitQueue<Job>();
  private readonly units = new Map<number, UnitState>();
  private active: Active | null = null;
  private draining = false;
  private lastLineActivity = -Infinity;
  private transactionId = 0;
  private unsolicitedBytes = 0;
  private drainedBytes = 0;
  private staleFrames = 0;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private stopPromise: Promise<void> | null = null;
  private readonly onData = (chunk: Buffer): void => this.handleData(chunk);
  private readonly onUp = (): void => {
    this.log.info('bus port up');
    this.notify('port-up');
    this.wake?.();
  };
  private readonly onDown = (reason: string): void => {
    this.log.warn({ reason }, 'bus port down');
    if (this.active) this.finish(this.active, { kind: 'port-down', detail: reason, sent: true });
    this.notify('port-down', { reason });
  };
  /** The reply timer's callback, one function for every request (the exchange comes as its argument). */
  private readonly onReplyTimeout = (a: Active): void => {
    this.finish(a, { kind: 'timeout', detail: `no reply from unit ${a.ex.unit} to ${describeRequest(a.ex.request)} within ${a.timeoutMs} ms`, sent: true });
  };

  constructor(
    private readonly transport: Transport,
    options: BusMasterOptions,
    deps: { logger: Logger; clock?: Clock },
  ) {
    super();
    this.options = resolveBusMasterOptions(options);
    if (this.options.framing === 'mbap' && transport.kind !== 'tcp') throw new Error('mbap framing needs a tcp transport');
    this.busId = this.options.busId;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger.child({ bus: this.busId });
  }

  /** Opens the transport and starts the loop. Requests made before start() wait for it. */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.transport.on('data', this.onData);
    this.transport.on('up', this.onUp);
    this.transport.on('down', this.onDown);
    this.transport.open();
    this.loopDone = this.loop();
  }

  /** Lets the request on the wire finish, answers everything queued with 'closed', closes the port. */
  stop(): Promise<void> {
    this.stopPromise ??= this.shutdown();
    return this.stopPromise;
  }

  private async shutdown(): Promise<void> {
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    this.wake?.();
    await this.loopDone;
    for (const job of this.queue.takeAll()) job.resolve({ ok: false, kind: 'closed', detail: `bus ${this.busId} stopped`, sent: false });
    if (wasRunning) {
      this.transport.off('data', this.onData);
      this.transport.off('up', this.onUp);
      this.transport.off('down', this.onDown);
      await this.transport.close();
    }
    this.state = 'stopped';
  }

  request(unit: number, req: ModbusRequest, opts: BusRequestOptions = {}): Promise<BusResult> {
    const maxUnit = this.options.framing === 'mbap' ? 255 : 247;
    const minUnit = this.options.framing === 'mbap' ? 0 : 1;
    if (!Number.isInteger(unit) || unit < minUnit || unit > maxUnit) {
      return Promise.reject(new RangeError(`unit ${unit} out of ${minUnit}..${maxUnit}`));
    }
    const timeoutMs = opts.timeoutMs ?? this.options.replyTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
      return Promise.reject(new RangeError(`timeoutMs ${timeoutMs} out of 1..${MAX_TIMEOUT_MS}`));
    }
    try {
      checkRequest(req);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    if (this.state === 'stopping' || this.state === 'stopped') {
      return Promise.resolve({ ok: false, kind: 'closed', detail: `bus ${this.busId} stopped`, sent: false });
    }
    return new Promise<BusResult>((resolve) => {
      this.queue.push({ unit, priority: opts.priority ?? 'poll', request: req, timeoutMs, resolve });
      this.wake?.();
    });
  }

  stats(): BusStats {
    return {
      busId: this.busId,
      portUp: this.transport.isUp,
      queueLength: this.queue.length,
      unsolicitedBytes: this.unsolicitedBytes,
      drainedBytes: this.drainedBytes,
      staleFrames: this.staleFrames,
      units: [...this.units.keys()].sort((a, b) => a - b).flatMap((u) => this.unitStats(u) ?? []),
    };
  }

  unitStats(unit: number): BusUnitStats | undefined {
    const s = this.units.get(unit);
    return s?.stats.snapshot(s.breaker.state(), s.breaker.consecutiveFailures);
  }

  private unitState(unit: number): UnitState {
    let s = this.units.get(unit);
    if (!s) {
      s = {
        breaker: new CircuitBreaker(this.options.breaker, this.clock),
        stats: new UnitStatsTracker(unit, this.options.latencyBucketsMs),
      };
      this.units.set(unit, s);
    }
    return s;
  }

  /** Listener errors must not break the bus loop, nor be swallowed: they surface on their own tick. */
  private notify<E extends keyof BusMasterEvents>(event: E, ...args: BusMasterEvents[E]): void {
    process.nextTick(() => (this.emit as (e: E, ...a: BusMasterEvents[E]) => boolean)(event, ...args));
  }

  private async loop(): Promise<void> {
    while (this.state === 'running') {
      const job = this.queue.shift();
      if (!job) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      try {
        await this.execute(job);
      } catch (e) {
        // a bug of ours: the caller still gets a definite answer and the bus goes on
        this.log.error({ err: errText(e), unit: job.unit }, 'bus loop error');
        job.resolve({ ok: false, kind: 'bad-frame', detail: `internal error: ${errText(e)}`, sent: true });
      }
    }
  }

  private async execute(job: Job): Promise<void> {
    const { unit, request } = job;
    const u = this.unitState(unit);
    if (!this.transport.isUp) {
      u.stats.portDown += 1;
      job.resolve({ ok: false, kind: 'port-down', detail: `${this.transport.description} is down`, sent: false });
      return;
    }
    if (!u.breaker.allow()) {
      u.stats.breakerRejected += 1;
      job.resolve({ ok: false, kind: 'breaker-open', detail: `unit ${unit} offline; next probe in ${Math.round(u.breaker.retryInMs())} ms`, sent: false });
      return;
    }
    const gapMs = this.interFrameWaitMs();
    if (gapMs > 0) await delay(gapMs);
    this.transactionId = (this.transactionId + 1) & 0xffff;
    const ex = new Exchange(this.options.framing, unit, request, this.transactionId);
    const outcome = await this.transact(ex, job.timeoutMs);
    this.staleFrames += ex.staleFrames;
    if (outcome.kind !== 'port-down' || outcome.sent) u.stats.requests += 1;

    let drain = false;
    switch (outcome.kind) {
      case 'reply': {
        u.stats.answered(outcome.latencyMs, outcome.exception, this.clock.now());
        const t = u.breaker.onSuccess();
        if (t?.to === 'closed') {
          this.log.info({ unit, offlineForMs: Math.round(t.wasOpenForMs) }, 'unit back online');
          this.notify('unit-online', { unit, offlineForMs: t.wasOpenForMs });
        }
        drain = outcome.trailing;
        job.resolve(outcome.result);
        break;
      }
      case 'timeout':
      case 'bad-frame': {
        if (outcome.kind === 'timeout') u.stats.timeouts += 1;
        else u.stats.badFrames += 1;
        this.log.debug({ unit, req: describeRequest(request), kind: outcome.kind, detail: outcome.detail }, 'request failed');
        const t = u.breaker.onFailure();
        if (t?.to === 'open') {
          this.log.warn({ unit, consecutiveFailures: t.consecutiveFailures, retryInMs: t.retryInMs }, 'unit offline, breaker open');
          this.notify('unit-offline', { unit, consecutiveFailures: t.consecutiveFailures, retryInMs: t.retryInMs });
        }
        drain = true;
        job.resolve({ ok: false, kind: outcome.kind, detail: outcome.detail, sent: outcome.sent });
        break;
      }
      case 'port-down':
        u.stats.portDown += 1;
        job.resolve({ ok: false, kind: 'port-down', detail: outcome.detail, sent: outcome.sent });
        break;
    }
    if (drain && this.state === 'running') await this.drain();
  }

  /** The matcher is in place before the first byte goes out; the timer starts once the request has left. */
  private transact(ex: Exchange, timeoutMs: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      const a: Active = { ex, t0: this.clock.monotonic(), timeoutMs, timer: null, resolve };
      this.active = a;
      this.transport.write(ex.adu).then(
        () => {
          this.lastLineActivity = this.clock.monotonic();
          if (this.active === a) a.timer = setTimeout(this.onReplyTimeout, timeoutMs, a);
        },
        // part of the frame may have gone out: the device may have acted on it
        (err: unknown) => this.finish(a, { kind: 'port-down', detail: errText(err), sent: true }),
      );
    });
  }

  /** Ends the exchange `a` with its first outcome; any later one (a late write, a timer) is ignored. */
  private finish(a: Active, o: Outcome): void {
    if (this.active !== a) return;
    this.active = null;
    if (a.timer) clearTimeout(a.timer);
    a.resolve(o);
  }

  private replyData(a: Active, chunk: Buffer, now: number): void {
    const r = a.ex.feed(chunk);
    if (r.status === 'pending') return;
    if (r.status === 'bad') return this.finish(a, { kind: 'bad-frame', detail: r.detail, sent: true });
    const latencyMs = now - a.t0;
    if (r.reply.kind === 'exception') {
      const detail = `exception ${r.reply.code} (${EXCEPTION_NAMES[r.reply.code] ?? 'unknown'})`;
      this.finish(a, { kind: 'reply', exception: true, trailing: r.trailing, latencyMs, result: { ok: false, kind: 'exception', code: r.reply.code, detail, latencyMs } });
    } else {
      this.finish(a, { kind: 'reply', exception: false, trailing: r.trailing, latencyMs, result: { ok: true, reply: r.reply, latencyMs } });
    }
  }

  private handleData(chunk: Buffer): void {
    const now = this.clock.monotonic();
    this.lastLineActivity = now;
    if (this.active) {
      this.replyData(this.active, chunk, now);
    } else if (this.draining) {
      this.drainedBytes += chunk.length;
    } else {
      this.unsolicitedBytes += chunk.length;
      this.log.debug({ bytes: chunk.length }, 'unsolicited bytes on an idle line, dropped');
    }
  }

  /** Discards whatever arrives until the line has been quiet for drainQuietMs. */
  private async drain(): Promise<void> {
    const { drainQuietMs, drainMaxMs } = this.options;
    const start = this.clock.monotonic();
    this.draining = true;
    try {
      for (;;) {
        const now = this.clock.monotonic();
        const quietFor = now - Math.max(this.lastLineActivity, start);
        if (quietFor >= drainQuietMs || !this.transport.isUp) return;
        if (now - start >= drainMaxMs) {
          this.log.warn({ drainMaxMs }, 'line did not go quiet; continuing');
          return;
        }
        await delay(Math.max(1, Math.ceil(drainQuietMs - quietFor)));
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Modbus RTU needs t3.5 of silence between frames; a fast master would otherwise run two
   * together. Whole milliseconds still to wait, 0 when the line has been quiet long enough (then
   * no timer and no promise: over TCP, where the converter keeps the gaps, always).
   */
  private interFrameWaitMs(): number {
    if (this.options.interFrameDelayMs <= 0) return 0;
    const wait = this.lastLineActivity + this.options.interFrameDelayMs - this.clock.monotonic();
    return wait > 0 ? Math.ceil(wait) : 0;
  }
}
