// A simulated card reader or QR scanner for the demo and the tests: it opens the far end of a
// pty pair (socat) and writes what the real device would, with the real repeat rhythm: a type L
// line every 300 ms while a card is held, an EM4100 frame every ~100 ms, a held phone screen
// decoded again and again; a type S reader sends one line per tap and never repeats it. Optional noise puts stray bytes on the line the way a long cable does.
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialPort } from 'serialport';
import { encodeEm4100Frame } from '../../protocols/readers/em4100.js';
import { encodeLineReaderLine } from '../../protocols/readers/line-reader.js';
import { encodeQrText } from '../../protocols/readers/qr-scanner.js';
import { encodeSunReaderLine } from '../../protocols/readers/sun-reader.js';
import type { ReaderFamily } from '../../protocols/readers/debounce.js';

export const DEFAULT_REPEAT_MS: Readonly<Record<ReaderFamily, number>> = { line: 300, em4100: 100, qr: 400, sun: 0 };

export interface ReaderEmulatorOptions {
  /** The pty end the emulated device writes to (the gateway opens the other end). */
  path: string;
  type: ReaderFamily;
  baudRate?: number;
  /** Interval between repeats while a card or screen is held. */
  repeatMs?: number;
  /** 0..1: chance, between two repeats, of a burst of 1-8 stray bytes. */
  noiseRate?: number;
  /** Injected for reproducible noise. */
  random?: () => number;
}

export class ReaderEmulator {
  private readonly opts: Required<Omit<ReaderEmulatorOptions, 'baudRate'>> & { baudRate: number };
  private port: SerialPort | null = null;
  private written = 0;

  constructor(opts: ReaderEmulatorOptions) {
    this.opts = {
      baudRate: 9600,
      repeatMs: DEFAULT_REPEAT_MS[opts.type],
      noiseRate: 0,
      random: Math.random,
      ...opts,
    };
  }

  /** Opens the pty end; call again after the pair was unplugged and replugged. */
  async open(): Promise<void> {
    await this.close();
    const port = new SerialPort({ path: this.opts.path, baudRate: this.opts.baudRate, autoOpen: false });
    port.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    this.port = port;
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Bytes written since construction: lets a test wait until the reader has read them all. */
  get bytesWritten(): number {
    return this.written;
  }

  /** The bytes of one sighting of `value` (a UID, a QR text, or a type S line: a SUN URI or `UID:…`). */
  frame(value: string): Uint8Array {
    switch (this.opts.type) {
      case 'line':
        return encodeLineReaderLine(value);
      case 'em4100':
        return encodeEm4100Frame(value);
      case 'qr':
        return encodeQrText(value);
      case 'sun':
        return encodeSunReaderLine(value);
    }
  }

  /**
   * Holds a card (or a phone screen) in the field for `holdMs`: one frame at once, then one
   * every repeatMs until the hold time is over. Resolves when the card is taken away.
   */
  async present(value: string, holdMs = 0): Promise<number> {
    const frame = this.frame(value);
    const until = Date.now() + holdMs;
    let sent = 0;
    for (;;) {
      await this.write(frame);
      sent++;
      if (this.opts.repeatMs <= 0 || Date.now() + this.opts.repeatMs > until) return sent;
      if (this.noiseNow()) {
        // Stray bytes land between frames, as they do on a real cable.
        await sleep(this.opts.repeatMs / 2);
        await this.write(this.junk());
        await sleep(this.opts.repeatMs / 2);
      } else {
        await sleep(this.opts.repeatMs);
      }
    }
  }

  /** A card swipe on a card reader: the same as present(). */
  swipe(uid: string, holdMs = 0): Promise<number> {
    return this.present(uid, holdMs);
  }

  /** A code shown to a scanner: the same as present(). */
  scan(text: string, holdMs = 0): Promise<number> {
    return this.present(text, holdMs);
  }

  /** The first `keep` bytes of a frame and nothing more: a cable moved mid-frame. */
  async cutFrame(value: string, keep: number): Promise<void> {
    await this.write(this.frame(value).subarray(0, keep));
  }

  async writeRaw(bytes: Uint8Array | string): Promise<void> {
    await this.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  private noiseNow(): boolean {
    return this.opts.noiseRate > 0 && this.opts.random() < this.opts.noiseRate;
  }

  private junk(): Buffer {
    const n = 1 + Math.floor(this.opts.random() * 8);
    const junk = Buffer.alloc(n);
    for (let i = 0; i < n; i++) junk[i] = Math.floor(this.opts.random() * 256);
    return junk;
  }

  private write(bytes: Uint8Array): Promise<void> {
    const port = this.port;
    if (!port) return Promise.reject(new Error('reader emulator: port not open'));
    return new Promise<void>((resolve, reject) => {
      port.write(Buffer.from(bytes), (err) => {
        if (err) return reject(err);
        this.written += bytes.length;
        port.drain((e) => (e ? reject(e) : resolve()));
      });
    });
  }
}
