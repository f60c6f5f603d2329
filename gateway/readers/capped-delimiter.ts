// @serialport/parser-delimiter with the two things a reader line needs and it lacks:
// - a cap: DelimiterParser buffers without limit while no delimiter comes (a reader gone mad, a
//   floating RX line), so past `maxFrameBytes` the frame is dropped and the rest of it, up to the
//   next delimiter, is skipped without being buffered;
// - a frame gap: a line reader has no start marker or checksum, so the head of a frame cut short
//   by a moved cable would be glued to the next frame (a 6-character stub plus a 14-character
//   UID is a valid-looking 20-character UID). Real frames arrive within a few milliseconds and
//   repeat every 300 ms, so a partial frame followed by a quiet line longer than `frameGapMs` is
//   dropped as cut.
// Output is object mode: frames and drops in line order, so the caller counts every drop.
import { DelimiterParser } from '@serialport/parser-delimiter';
import type { TransformCallback } from 'node:stream';

export type DelimitedOutput = { kind: 'frame'; bytes: Buffer } | { kind: 'drop'; reason: 'oversize' | 'cut-frame'; bytes: number };

export interface CappedDelimiterOptions {
  delimiter: string | Buffer;
  /** Longest frame kept, delimiter excluded. */
  maxFrameBytes: number;
  /** A partial frame older than this when more bytes come is dropped as cut; 0 disables. */
  frameGapMs: number;
  /** Monotonic milliseconds. */
  now: () => number;
}

const EMPTY = Buffer.alloc(0);

export class CappedDelimiterParser extends DelimiterParser {
  private readonly maxFrameBytes: number;
  private readonly frameGapMs: number;
  private readonly now: () => number;
  private lastChunkAt = 0;
  // Inside an oversized frame: `buffer` then holds only enough tail to spot a split delimiter.
  private discarding = false;

  constructor(opts: CappedDelimiterOptions) {
    super({ delimiter: opts.delimiter, readableObjectMode: true });
    this.maxFrameBytes = opts.maxFrameBytes;
    this.frameGapMs = opts.frameGapMs;
    this.now = opts.now;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback): void {
    const now = this.now();
    const pending = this.buffer.length > 0 || this.discarding;
    if (pending && this.frameGapMs > 0 && now - this.lastChunkAt > this.frameGapMs) {
      if (!this.discarding) this.emitDrop('cut-frame', this.buffer.length);
      this.buffer = EMPTY;
      this.discarding = false;
    }
    this.lastChunkAt = now;

    const delim = this.delimiter;
    const data = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let start = 0;
    let pos: number;
    while ((pos = data.indexOf(delim, start)) !== -1) {
      if (this.discarding) {
        this.discarding = false;
      } else if (pos - start > this.maxFrameBytes) {
        this.emitDrop('oversize', pos - start);
      } else {
        this.push({ kind: 'frame', bytes: Buffer.from(data.subarray(start, pos)) } satisfies DelimitedOutput);
      }
      start = pos + delim.length;
    }
    const rest = data.subarray(start);
    // The tail may end in the first bytes of a delimiter, so a frame of exactly the cap survives.
    if (!this.discarding && rest.length > this.maxFrameBytes + delim.length - 1) {
      this.emitDrop('oversize', rest.length);
      this.discarding = true;
    }
    // Copies, so that a 64 kB read is not kept alive by a few bytes of it.
    this.buffer = this.discarding ? Buffer.from(rest.subarray(Math.max(0, rest.length - (delim.length - 1)))) : Buffer.from(rest);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.buffer.length > 0 && !this.discarding) this.emitDrop('cut-frame', this.buffer.length);
    this.buffer = EMPTY;
    this.discarding = false;
    cb();
  }

  /** Bytes held for an unfinished frame: never more than maxFrameBytes + delimiter length - 1. */
  get bufferedBytes(): number {
    return this.buffer.length;
  }

  private emitDrop(reason: 'oversize' | 'cut-frame', bytes: number): void {
    this.push({ kind: 'drop', reason, bytes } satisfies DelimitedOutput);
  }
}
