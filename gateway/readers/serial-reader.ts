// One card reader or QR scanner on one serial device. It owns the port: opens it, frames what
// the line carries with the family's codec from protocols/readers/, drops repeats of the same
// presentation, and turns the rest into typed events. Nothing the line carries can make it
// throw; garbage is counted and logged (rate-limited). A device node that vanishes (adapter
// pulled, and on Linux a pulled adapter can make the native binding spin on 0-byte reads, see
// PITFALLS) is noticed by polling the path and by the port's close/error events; the port is
// closed and opened again, with backoff, when the node comes back.
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { systemClock, type Clock } from '../core/clock.js';
import { maskUid, type Logger } from '../core/log.js';
import { PresentationDebouncer } from '../../protocols/readers/debounce.js';
import { Em4100Framer } from '../../protocols/readers/em4100.js';
import { LINE_READER_DELIMITER, LINE_READER_MAX_LINE_BYTES, parseLineReaderLine } from '../../protocols/readers/line-reader.js';
import { NOISE_REASONS, type NoiseReason } from '../../protocols/readers/noise.js';
import { QR_DELIMITER, QR_MAX_TEXT_BYTES, parseQrText } from '../../protocols/readers/qr-scanner.js';
import { SUN_READER_MAX_LINE_BYTES, parseSunReaderLine } from '../../protocols/readers/sun-reader.js';
import { CappedDelimiterParser, type DelimitedOutput } from './capped-delimiter.js';
import type { AttachedTo, ReaderConfig } from './config-schema.js';

export interface SwipeEvent {
  readerId: string;
  /** Uppercase hex. Mask it (maskUid) before it goes anywhere near a log. */
  uid: string;
  attachedTo: AttachedTo;
  /** Wall-clock milliseconds. */
  at: number;
}
export interface ScanEvent {
  readerId: string;
  /** The decoded text; a vend token is a bearer secret: never log it. */
  text: string;
  attachedTo: AttachedTo;
  at: number;
}
/** A type S line that names a SUN message: not yet verified (that needs the room's keys). */
export interface SunTapEvent {
  readerId: string;
  /** The card's URI text. Replay-protected, but still never logged. */
  text: string;
  attachedTo: AttachedTo;
  at: number;
}
export interface NoiseEvent {
  readerId: string;
  reason: NoiseReason;
  /** Bytes thrown away with it. */
  bytes: number;
}
export interface UpEvent {
  readerId: string;
  path: string;
  /** False for the first open since start(). */
  reopened: boolean;
}
export interface DownEvent {
  readerId: string;
  reason: string;
}

export interface ReaderEvents {
  swipe: [SwipeEvent];
  scan: [ScanEvent];
  sun: [SunTapEvent];
  noise: [NoiseEvent];
  up: [UpEvent];
  down: [DownEvent];
}

export type ReaderState = 'stopped' | 'opening' | 'up' | 'down';

export interface ReaderStats {
  readerId: string;
  type: ReaderConfig['type'];
  state: ReaderState;
  /** Bytes read from the port since start(). */
  bytesIn: number;
  /** Bytes held for an unfinished frame right now (bounded by the family's cap). */
  pendingBytes: number;
  /** Valid frames (every repeat included). */
  framesOk: number;
  /** Swipes or scans emitted: valid frames that were not repeats. */
  presentations: number;
  repeats: number;
  noise: Record<NoiseReason, number>;
  opens: number;
  reopens: number;
  openFailures: number;
  downs: number;
}

export interface SerialReaderDeps {
  logger: Logger;
  clock?: Clock;
}

/** Noise of one reason is logged at most once per this long; the count is always exact. */
const NOISE_LOG_EVERY_MS = 10_000;
const CLOSE_TIMEOUT_MS = 2000;

export class SerialReader extends EventEmitter<ReaderEvents> {
  readonly id: string;
  private readonly cfg: ReaderConfig;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly debouncer: PresentationDebouncer;
  private readonly counters: Omit<ReaderStats, 'readerId' | 'type' | 'state' | 'noise' | 'pendingBytes'> = {
    bytesIn: 0,
    framesOk: 0,
    presentations: 0,
    repeats: 0,
    opens: 0,
    reopens: 0,
    openFailures: 0,
    downs: 0,
  };
  private readonly noiseCounts: Record<NoiseReason, number>;
  private readonly noiseLoggedAt = new Map<NoiseReason, { at: number; suppressed: number }>();

  private st: ReaderState = 'stopped';
  private port: SerialPort | null = null;
  private parser: CappedDelimiterParser | null = null;
  private framer: Em4100Framer | null = null;
  private openedIdentity = '';
  private announced: 'up' | 'down' | null = null;
  private timer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private nextAttemptAt = 0;
  private firstAttempt: (() => void) | null = null;

  constructor(config: ReaderConfig, deps: SerialReaderDeps) {
    super();
    this.id = config.id;
    this.cfg = config;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger.child({ readerId: config.id, readerType: config.type });
    this.debouncer = new PresentationDebouncer({ windowMs: config.debounceMs, maxKeys: config.type === 'qr' ? 16 : 64 });
    this.noiseCounts = Object.fromEntries(NOISE_REASONS.map((r) => [r, 0])) as Record<NoiseReason, number>;
    this.backoffMs = config.reopenMinMs;
  }

  get state(): ReaderState {
    return this.st;
  }

  /** Resolves once the first open attempt has settled, up or not: a missing reader is not fatal. */
  start(): Promise<void> {
    if (this.st !== 'stopped') return Promise.resolve();
    this.st = 'down';
    this.backoffMs = this.cfg.reopenMinMs;
    this.nextAttemptAt = 0;
    this.timer = setInterval(() => this.tick(), this.cfg.pollMs);
    const settled = new Promise<void>((resolve) => {
      this.firstAttempt = resolve;
    });
    this.tryOpen();
    return settled;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.st = 'stopped';
    this.announced = null;
    this.settleFirstAttempt();
    const port = this.port;
    this.detach();
    if (port?.isOpen) await closePort(port);
  }

  stats(): ReaderStats {
    const pendingBytes = this.framer?.bufferedBytes ?? this.parser?.bufferedBytes ?? 0;
    return { readerId: this.id, type: this.cfg.type, state: this.st, ...this.counters, pendingBytes, noise: { ...this.noiseCounts } };
  }

  private tick(): void {
    if (this.st === 'up') {
      const ident = this.identity();
      if (ident === null) this.portGone(this.port, 'device node vanished');
      else if (ident !== this.openedIdentity) this.portGone(this.port, 'device node replaced');
    } else if (this.st === 'down' && this.clock.monotonic() >= this.nextAttemptAt) {
      this.tryOpen();
    }
  }

  /** The device node's identity, or null when it is not there. Follows the by-id symlink. */
  private identity(): string | null {
    try {
      const s = statSync(this.cfg.path);
      return `${s.rdev}:${s.ino}`;
    } catch {
      return null;
    }
  }

  private tryOpen(): void {
    const ident = this.identity();
    if (ident === null) {
      this.markDown('device node absent');
      this.settleFirstAttempt();
      return;
    }
    let port: SerialPort;
    try {
      port = new SerialPort({ path: this.cfg.path, baudRate: this.cfg.baudRate, autoOpen: false });
    } catch (e) {
      this.openFailed(e);
      return;
    }
    this.st = 'opening';
    this.port = port;
    port.on('error', (e: Error) => this.portGone(port, `port error: ${e.message}`));
    port.on('close', (e: unknown) => this.portGone(port, e ? 'port disconnected' : 'port closed'));
    port.on('data', (chunk: Buffer) => this.onData(port, chunk));
    port.open((err) => {
      if (this.port !== port) {
        // Stopped or given up while opening: the port is nobody's.
        if (!err) port.close(() => undefined);
        return;
      }
      if (err) {
        this.port = null;
        this.openFailed(err);
        return;
      }
      this.onOpened(ident);
    });
  }

  private onOpened(ident: string): void {
    this.st = 'up';
    this.openedIdentity = ident;
    const reopened = this.counters.opens > 0;
    this.counters.opens++;
    if (reopened) this.counters.reopens++;
    this.backoffMs = this.cfg.reopenMinMs;
    this.framer = this.cfg.type === 'em4100' ? new Em4100Framer() : null;
    if (this.cfg.type !== 'em4100') {
      const parser = new CappedDelimiterParser({
        delimiter: this.cfg.type === 'qr' ? QR_DELIMITER : LINE_READER_DELIMITER,
        maxFrameBytes: this.cfg.type === 'line' ? LINE_READER_MAX_LINE_BYTES : this.cfg.type === 'sun' ? SUN_READER_MAX_LINE_BYTES : QR_MAX_TEXT_BYTES,
        frameGapMs: this.cfg.frameGapMs,
        now: () => this.clock.monotonic(),
      });
      parser.on('data', (out: DelimitedOutput) => {
        if (this.parser === parser) this.onDelimited(out);
      });
      this.parser = parser;
    }
    this.announced = 'up';
    this.log.info({ path: this.cfg.path, reopened }, 'reader up');
    this.settleFirstAttempt();
    this.emit('up', { readerId: this.id, path: this.cfg.path, reopened });
  }

  private openFailed(e: unknown): void {
    this.counters.openFailures++;
    const msg = e instanceof Error ? e.message : String(e);
    if (this.announced !== 'down') this.log.warn({ path: this.cfg.path, err: msg }, 'reader open failed; retrying with backoff');
    this.markDown(`open failed: ${msg}`);
    this.nextAttemptAt = this.clock.monotonic() + this.backoffMs;
    this.backoffMs = Math.min(this.cfg.reopenMaxMs, this.backoffMs * 2);
    this.settleFirstAttempt();
  }

  /** The port is gone or must go: close it, count it, and let tick() reopen it. */
  private portGone(port: SerialPort | null, reason: string): void {
    if (port === null || this.port !== port) return;
    const wasUp = this.st === 'up';
    this.detach();
    if (port.isOpen) port.close(() => undefined);
    if (wasUp) this.counters.downs++;
    this.markDown(reason);
    this.nextAttemptAt = this.clock.monotonic() + this.backoffMs;
  }

  private markDown(reason: string): void {
    if (this.st === 'stopped') return;
    this.st = 'down';
    if (this.announced === 'down') return;
    this.announced = 'down';
    this.log.warn({ path: this.cfg.path, reason }, 'reader down');
    this.emit('down', { readerId: this.id, reason });
  }

  private detach(): void {
    const port = this.port;
    this.port = null;
    if (port) port.removeAllListeners('data');
    this.parser?.destroy();
    this.parser = null;
    this.framer = null;
  }

  private settleFirstAttempt(): void {
    const resolve = this.firstAttempt;
    this.firstAttempt = null;
    resolve?.();
  }

  private onData(port: SerialPort, chunk: Buffer): void {
    if (this.port !== port || this.st !== 'up') return;
    this.counters.bytesIn += chunk.length;
    if (this.framer) {
      for (const ev of this.framer.push(chunk)) {
        if (ev.kind === 'frame') this.present(ev.uid);
        else this.noise(ev.reason, ev.bytes);
      }
    } else {
      this.parser?.write(chunk);
    }
  }

  private onDelimited(out: DelimitedOutput): void {
    if (out.kind === 'drop') return this.noise(out.reason, out.bytes);
    if (this.cfg.type === 'sun') {
      const r = parseSunReaderLine(out.bytes);
      if (!r.ok) this.noise(r.reason, out.bytes.length);
      else if (r.kind === 'uid') this.present(r.uid);
      else this.presentSun(r.text);
    } else if (this.cfg.type === 'qr') {
      const r = parseQrText(out.bytes);
      if (r.ok) this.present(r.text);
      else this.noise(r.reason, out.bytes.length);
    } else {
      const r = parseLineReaderLine(out.bytes);
      if (r.ok) this.present(r.uid);
      else this.noise(r.reason, out.bytes.length);
    }
  }

  private present(key: string): void {
    // A listener may have stopped the reader while a read's frames are still being handed out.
    if (this.st !== 'up') return;
    this.counters.framesOk++;
    if (this.debouncer.observe(key, this.clock.monotonic()) === 'repeat') {
      this.counters.repeats++;
      return;
    }
    this.counters.presentations++;
    const base = { readerId: this.id, attachedTo: this.cfg.attachedTo, at: this.clock.now() };
    if (this.cfg.type === 'qr') {
      this.log.info({ chars: key.length, format: key.startsWith('LW1:') ? 'LW1' : 'other' }, 'code scanned');
      this.emit('scan', { ...base, text: key });
    } else {
      this.log.info({ card: maskUid(key) }, 'card presented');
      this.emit('swipe', { ...base, uid: key });
    }
  }

  /** A SUN line is never debounced: the same text again is a replay for the verifier to decline. */
  private presentSun(text: string): void {
    if (this.st !== 'up') return;
    this.counters.framesOk++;
    this.counters.presentations++;
    this.log.info({ chars: text.length }, 'secure card tapped');
    this.emit('sun', { readerId: this.id, text, attachedTo: this.cfg.attachedTo, at: this.clock.now() });
  }

  private noise(reason: NoiseReason, bytes: number): void {
    if (this.st !== 'up') return;
    this.noiseCounts[reason]++;
    const now = this.clock.monotonic();
    const last = this.noiseLoggedAt.get(reason);
    if (!last || now - last.at >= NOISE_LOG_EVERY_MS) {
      this.log.warn({ reason, bytes, suppressed: last?.suppressed ?? 0, total: this.noiseCounts[reason] }, 'reader noise dropped');
      this.noiseLoggedAt.set(reason, { at: now, suppressed: 0 });
    } else {
      last.suppressed++;
    }
    this.emit('noise', { readerId: this.id, reason, bytes });
  }
}

function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, CLOSE_TIMEOUT_MS);
    port.close(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
