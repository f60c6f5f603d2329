// A strict Modbus RTU slave for one bus (many units on one port), unlike modbus-serial's
// ServerSerial (see PITFALLS): requests are sized by function code, a bad CRC is dropped
// silently, other units and broadcast are ignored, and line noise is resynchronised by sliding
// one byte at a time. The t3.5 idle gap is only the fallback: it ends frames of unknown function
// codes and flushes incomplete junk.
import { crcOk } from '../protocols/modbus/crc.js';
import { encodeRtuReply, RTU_MAX_ADU, rtuRequestLength } from '../protocols/modbus/rtu.js';
import { charTime, t35, type LineFormat } from '../protocols/modbus/timing.js';
import type { Logger } from '../gateway/core/log.js';

/** How a unit answers one request; null from serve() means silence. */
export interface ReplyPlan {
  pdu: Buffer;
  /** Real ms from the end of the request to the reply (turnaround plus any injected lateness). */
  delayMs: number;
  /** Flip a bit of the reply so its CRC fails. */
  corrupt: boolean;
  /** Noise bytes put on the line just before the reply. */
  garbage: Buffer | null;
}

export interface SlaveTarget {
  serve(unit: number, pdu: Buffer): ReplyPlan | null;
}

const MIN_FRAME = 4;

/** Cuts a byte stream into CRC-valid request frames. Pure: the owner calls idle() after t3.5 of silence. */
export class RtuFrameAssembler {
  private buf = Buffer.alloc(0);
  dropped = 0;

  push(chunk: Buffer): Buffer[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length > 2 * RTU_MAX_ADU) this.skip(this.buf.length - RTU_MAX_ADU);
    const out: Buffer[] = [];
    while (this.buf.length >= 2) {
      const len = rtuRequestLength(this.buf);
      if (len === undefined) break;
      if (len === null) {
        // Unknown function code: a real frame of unknown length, or noise in front of a known one.
        const j = this.findValidFrame(1);
        if (j < 0) break;
        this.skip(j);
        continue;
      }
      if (len < MIN_FRAME || len > RTU_MAX_ADU) {
        this.skip(1);
        continue;
      }
      if (this.buf.length < len) break;
      const frame = this.buf.subarray(0, len);
      if (crcOk(frame)) {
        out.push(Buffer.from(frame));
        this.buf = this.buf.subarray(len);
      } else {
        this.skip(1);
      }
    }
    return out;
  }

  /** The line went quiet: whatever valid frames remain are taken, the rest is noise. */
  idle(): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    const b = this.buf;
    while (b.length - i >= MIN_FRAME) {
      const rest = b.subarray(i);
      const len = rtuRequestLength(rest);
      if (typeof len === 'number' && len >= MIN_FRAME && len <= rest.length && crcOk(rest.subarray(0, len))) {
        out.push(Buffer.from(rest.subarray(0, len)));
        i += len;
      } else if (len === null && rest.length <= RTU_MAX_ADU && crcOk(rest)) {
        // A function code of unknown length ends at the gap; the unit answers it with exception 01.
        out.push(Buffer.from(rest));
        i = b.length;
      } else {
        i += 1;
        this.dropped += 1;
      }
    }
    this.dropped += b.length - i;
    this.buf = Buffer.alloc(0);
    return out;
  }

  /** Offset of the first whole, CRC-valid frame of known length at or after `from`, or -1. */
  private findValidFrame(from: number): number {
    for (let i = from; this.buf.length - i >= MIN_FRAME; i++) {
      const rest = this.buf.subarray(i);
      const len = rtuRequestLength(rest);
      if (typeof len === 'number' && len >= MIN_FRAME && len <= rest.length && crcOk(rest.subarray(0, len))) return i;
    }
    return -1;
  }

  get pending(): number {
    return this.buf.length;
  }

  private skip(n: number): void {
    this.dropped += n;
    this.buf = this.buf.subarray(n);
  }
}

export interface RtuSlaveOptions {
  logger: Logger;
  /** Silence that ends a frame, ms. Above t3.5 because a busy event loop delivers bytes late. */
  idleGapMs?: number;
  /**
   * When set, the slave keeps the line's clock at this format: a request is only taken as
   * received once its own characters would have crossed the wire, the frame end is seen after
   * t3.5 of silence, and the reply is held back by its own time on the wire. A pty delivers the
   * master's bytes at once; without the request side a paced cycle would beat the line.
   */
  pace?: LineFormat;
}

/** One RTU byte stream (a serial port or a TCP connection carrying raw RTU). */
export class RtuSlave {
  private readonly asm = new RtuFrameAssembler();
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly idleGapMs: number;
  private closed = false;
  /** performance.now() at which the last byte received so far would have finished on the wire. */
  private rxLineEnd = 0;

  constructor(
    private readonly target: SlaveTarget,
    private readonly write: (bytes: Buffer) => void,
    private readonly opts: RtuSlaveOptions,
  ) {
    this.idleGapMs = opts.idleGapMs ?? Math.max(10, opts.pace ? t35(opts.pace) * 1000 : 0);
  }

  onData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.opts.pace) this.rxLineEnd = Math.max(performance.now(), this.rxLineEnd) + chunk.length * charTime(this.opts.pace) * 1000;
    for (const frame of this.asm.push(chunk)) this.frame(frame);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.asm.pending > 0) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        for (const frame of this.asm.idle()) this.frame(frame);
      }, this.idleGapMs);
    }
  }

  private frame(frame: Buffer): void {
    const unit = frame.readUInt8(0);
    if (unit === 0) return;
    const plan = this.target.serve(unit, frame.subarray(1, frame.length - 2));
    if (!plan) return;
    const reply = encodeRtuReply(unit, plan.pdu);
    if (plan.corrupt) {
      const i = reply.length - 3;
      reply[i] = (reply.readUInt8(i) ^ 0x10) & 0xff;
    }
    const bytes = plan.garbage ? Buffer.concat([plan.garbage, reply]) : reply;
    // Paced: the request's remaining wire time and the t3.5 that ends it, then the reply's own.
    const pace = this.opts.pace;
    const wire = pace ? Math.max(0, this.rxLineEnd - performance.now()) + t35(pace) * 1000 + bytes.length * charTime(pace) * 1000 : 0;
    const send = (): void => {
      if (this.closed) return;
      try {
        this.write(bytes);
      } catch (e) {
        this.opts.logger.warn({ err: e, unit }, 'reply write failed');
      }
    };
    const delay = plan.delayMs + wire;
    if (delay <= 0) {
      send();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      send();
    }, delay);
    this.timers.add(t);
  }

  close(): void {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
