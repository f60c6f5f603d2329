// One card reader or QR scanner on one serial device. It frames what the line carries with the
// family's codec from protocols/readers/, drops repeats of the same presentation, and turns the
// rest into typed events. Nothing the line carries can make it throw; garbage is counted and
// logged (rate-limited). The port is the one reopening serial port (gateway/serial/): a device
// node that vanishes is noticed, the port closed and opened again, with backoff, when it is back.
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../core/clock.js';
import { maskUid, type Logger } from '../core/log.js';
import { PresentationDebouncer } from '../../protocols/readers/debounce.js';
import { Em4100Framer } from '../../protocols/readers/em4100.js';
import { LINE_READER_DELIMITER, LINE_READER_MAX_LINE_BYTES, parseLineReaderLine } from '../../protocols/readers/line-reader.js';
import { NOISE_REASONS, type NoiseReason } from '../../protocols/readers/noise.js';
import { QR_DELIMITER, QR_MAX_TEXT_BYTES, parseQrText } from '../../protocols/readers/qr-scanner.js';
import { ReopeningPort, type PortUnavailable } from '../serial/reopening-port.js';
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

  private running = false;
  private readonly port: ReopeningPort;
  private parser: CappedDelimiterParser | null = null;
  private framer: Em4100Framer | null = null;
  private announced: 'up' | 'down' | null = null;

  constructor(config: ReaderConfig, deps: SerialReaderDeps) {
    super();
    this.id = config.id;
    this.cfg = config;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger.child({ readerId: config.id, readerType: config.type });
    this.debouncer = new PresentationDebouncer({ windowMs: config.debounceMs, maxKeys: config.type === 'qr' ? 16 : 64 });
    this.noiseCounts = Object.fromEntries(NOISE_REASONS.map((r) => [r, 0])) as Record<NoiseReason, number>;
    // Readers speak 8N1 at their configured rate.
    this.port = new ReopeningPort(
      {
        path: config.path,
        line: { baudRate: config.baudRate, dataBits: 8, parity: 'none', stopBits: 1 },
        watchIntervalMs: config.pollMs,
        reopenInitialMs: config.reopenMinMs,
        reopenMaxMs: config.reopenMaxMs,
      },
      { logger: this.log },
    );
    this.port.on('up', ({ reopened }) => this.onOpened(reopened));
    this.port.on('down', (reason) => this.onLost(reason));
    this.port.on('unavailable', (info) => this.onUnavailable(info));
    this.port.on('data', (chunk) => this.onData(chunk));
  }

  get state(): ReaderState {
    if (!this.running) return 'stopped';
    if (this.port.isUp) return 'up';
    return this.announced === 'down' ? 'down' : 'opening';
  }

  /** Resolves once the first open attempt has settled, up or not: a missing reader is not fatal. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.announced = null;
    await this.port.open();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.announced = null;
    this.dropFraming();
    await this.port.close();
  }

  stats(): ReaderStats {
    const pendingBytes = this.framer?.bufferedBytes ?? this.parser?.bufferedBytes ?? 0;
    return { readerId: this.id, type: this.cfg.type, state: this.state, ...this.counters, pendingBytes, noise: { ...this.noiseCounts } };
  }

  private onOpened(reopened: boolean): void {
    if (!this.running) return;
    this.counters.opens++;
    if (reopened) this.counters.reopens++;
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
    this.emit('up', { readerId: this.id, path: this.cfg.path, reopened });
  }

  private onUnavailable(info: PortUnavailable): void {
    // an absent node is the normal state of an unplugged reader; a node that will not open is a fault
    if (info.nodePresent) {
      this.counters.openFailures++;
      if (this.announced !== 'down') this.log.warn({ path: this.cfg.path, err: info.reason }, 'reader open failed; retrying with backoff');
    }
    this.markDown(info.reason);
  }

  /** The port went away under us: count it; the port reopens by itself. */
  private onLost(reason: string): void {
    if (!this.running) return;
    this.dropFraming();
    this.counters.downs++;
    this.markDown(reason);
  }

  private markDown(reason: string): void {
    if (!this.running || this.announced === 'down') return;
    this.announced = 'down';
    this.log.warn({ path: this.cfg.path, reason }, 'reader down');
    this.emit('down', { readerId: this.id, reason });
  }

  private dropFraming(): void {
    this.parser?.destroy();
    this.parser = null;
    this.framer = null;
  }

  private onData(chunk: Buffer): void {
    if (!this.running) return;
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
    if (this.state !== 'up') return;
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
    if (this.state !== 'up') return;
    this.counters.framesOk++;
    this.counters.presentations++;
    this.log.info({ chars: text.length }, 'secure card tapped');
    this.emit('sun', { readerId: this.id, text, attachedTo: this.cfg.attachedTo, at: this.clock.now() });
  }

  private noise(reason: NoiseReason, bytes: number): void {
    if (this.state !== 'up') return;
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
