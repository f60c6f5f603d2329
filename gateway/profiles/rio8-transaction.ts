// One RIO-8 credit as a state machine with no I/O. Its one hard rule: the pulse-train register
// is written at most once, whatever comes back; after a lost reply only the counter and the
// pending register decide. The driver performs the actions and feeds the results in.
import type { IoResult } from './io.js';
import type { Rio8Options } from './options.js';
import { counterDelta, trainDeadlineMs } from './rio8-codec.js';
import type { CommandOutcome } from './types.js';

export type Rio8Action =
  | { do: 'read-in-use' }
  | { do: 'read-pending' }
  | { do: 'read-counter' }
  | { do: 'read-pulse-times' }
  | { do: 'write'; coins: number }
  | { do: 'sleep'; ms: number; why: 'settle' | 'readback-retry' | 'train' }
  | { do: 'done'; outcome: CommandOutcome };

type Phase = 'in-use' | 'pending' | 'counter' | 'pulse-times' | 'write' | 'settle' | 'rb-counter' | 'rb-pending' | 'train' | 'done';

export interface Rio8CreditParams {
  unit: number;
  channel: number;
  coins: number;
  /** As read at discovery; used when the fresh read before the write fails. */
  pulseOnMs: number;
  pulseOffMs: number;
}

type Rio8Evidence = { profile: 'rio8'; unit: number; channel: number; counterBefore: number; coins: number };

/**
 * Registers 32-33 hold 20-500 ms (datasheet). A reading outside that is not the module's timing
 * (a wrong device, a corrupted read): trusted, 65535 ms would stretch one train's deadline to
 * hours of counter polling with the machine held. Fresh readings outside it are ignored, and the
 * timing from discovery is clamped into it.
 */
export const RIO8_PULSE_MS = { min: 20, max: 500 } as const;
const pulseInRange = (ms: number): boolean => Number.isInteger(ms) && ms >= RIO8_PULSE_MS.min && ms <= RIO8_PULSE_MS.max;
const clampPulse = (ms: number): number => (Number.isFinite(ms) ? Math.min(RIO8_PULSE_MS.max, Math.max(RIO8_PULSE_MS.min, ms)) : RIO8_PULSE_MS.max);

export class Rio8Credit {
  private phase: Phase = 'in-use';
  private evidence: Rio8Evidence | null = null;
  private writes = 0;
  private lostDetail = '';
  private rbLeft: number;
  private rbCounter = 0;
  private trainUntil = 0;
  private trainReadsLeft = 0;
  private budget = 0;
  private sent: number | null = null;
  private onMs: number;
  private offMs: number;

  constructor(
    private readonly p: Rio8CreditParams,
    private readonly o: Rio8Options,
  ) {
    this.rbLeft = o.readbackAttempts;
    this.onMs = clampPulse(p.pulseOnMs);
    this.offMs = clampPulse(p.pulseOffMs);
  }

  start(): Rio8Action {
    return { do: 'read-in-use' };
  }

  onInUse(r: IoResult<boolean>): Rio8Action {
    this.expect('in-use');
    if (!r.ok) return this.unreachable(r.failure.detail);
    if (r.value) return this.finish({ status: 'rejected', reason: 'in_use', deviceCode: null, detail: `input ${this.p.channel} shows the machine in use; coins would be lost` });
    this.phase = 'pending';
    return { do: 'read-pending' };
  }

  /** A read of register 16+n (pending pulses). */
  onPending(r: IoResult<number>, now: number): Rio8Action {
    if (this.phase === 'pending') {
      if (!r.ok) return this.unreachable(r.failure.detail);
      if (r.value > 0) return this.finish({ status: 'rejected', reason: 'busy', deviceCode: null, detail: `a train of ${r.value} pulses is still running on relay ${this.p.channel}` });
      this.phase = 'counter';
      return { do: 'read-counter' };
    }
    this.expect('rb-pending');
    if (!r.ok) return this.readbackFailed(r.failure.detail);
    const ev = this.mustEvidence();
    if (counterDelta(ev.counterBefore, this.rbCounter) === 0 && r.value === 0) {
      return this.finish({ status: 'rejected', reason: 'not_executed', deviceCode: null, detail: `write reply lost (${this.lostDetail}); counter unchanged and nothing pending: the train never started`, evidence: ev });
    }
    return this.startTrain(now);
  }

  /** A read of register 48+n (pulse counter). */
  onCounter(r: IoResult<number>, now: number): Rio8Action {
    switch (this.phase) {
      case 'counter':
        if (!r.ok) return this.unreachable(r.failure.detail);
        this.evidence = { profile: 'rio8', unit: this.p.unit, channel: this.p.channel, counterBefore: r.value, coins: this.p.coins };
        this.phase = 'pulse-times';
        return { do: 'read-pulse-times' };
      case 'rb-counter':
        if (!r.ok) return this.readbackFailed(r.failure.detail);
        this.rbCounter = r.value;
        this.phase = 'rb-pending';
        this.rbLeft = this.o.readbackAttempts;
        return { do: 'read-pending' };
      case 'train': {
        const ev = this.mustEvidence();
        this.trainReadsLeft--;
        if (r.ok) {
          this.sent = counterDelta(ev.counterBefore, r.value);
          if (this.sent === ev.coins) return this.finish({ status: 'accepted', evidence: ev });
          // More than ours: the counter went back (it restarts at the module's power-up), so the
          // train was cut at a point nobody can read. Not proof of delivery: the read-back decides.
          if (this.sent > ev.coins) return this.finish({ status: 'unknown', detail: `the pulse counter went back (${ev.counterBefore} -> ${r.value}): the module restarted mid-train`, evidence: ev });
        }
        if (now < this.trainUntil && this.trainReadsLeft > 0) return { do: 'sleep', ms: this.o.pulseCheckIntervalMs, why: 'train' };
        const detail =
          this.sent === null ? `the train started but the counter could not be read within ${this.budget} ms` : `only ${this.sent} of ${ev.coins} pulses counted within ${this.budget} ms`;
        return this.finish({ status: 'unknown', detail, evidence: ev });
      }
      default:
        throw new Error(`counter read while ${this.phase}`);
    }
  }

  /**
   * Registers 32-33. Someone may have changed the pulse timing since discovery; the module times
   * each train with the values it has when the train starts, so the deadline follows them.
   */
  onPulseTimes(r: IoResult<number[]>): Rio8Action {
    this.expect('pulse-times');
    if (r.ok) {
      const [on, off] = r.value;
      if (on !== undefined && off !== undefined && pulseInRange(on) && pulseInRange(off)) {
        this.onMs = on;
        this.offMs = off;
      }
    }
    this.phase = 'write';
    return { do: 'write', coins: this.p.coins };
  }

  onWrite(w: IoResult<null>, now: number): Rio8Action {
    this.expect('write');
    this.writes++;
    const ev = this.mustEvidence();
    if (w.ok) return this.startTrain(now);
    const f = w.failure;
    if (f.kind === 'exception') {
      return this.finish({ status: 'rejected', reason: f.code === 6 ? 'busy' : 'device_exception', deviceCode: f.code, detail: `Modbus exception: ${f.detail}`, evidence: ev });
    }
    if (f.kind === 'not-sent') return this.finish({ status: 'rejected', reason: 'unreachable', deviceCode: null, detail: f.detail, evidence: ev });
    // Lost reply: the train may have started. Never write again: the counter will tell.
    this.lostDetail = f.detail;
    this.phase = 'settle';
    return { do: 'sleep', ms: this.o.lostReplySettleMs, why: 'settle' };
  }

  onSlept(): Rio8Action {
    switch (this.phase) {
      case 'settle':
        this.phase = 'rb-counter';
        this.rbLeft = this.o.readbackAttempts;
        return { do: 'read-counter' };
      case 'rb-counter':
        return { do: 'read-counter' };
      case 'rb-pending':
        return { do: 'read-pending' };
      case 'train':
        return { do: 'read-counter' };
      default:
        throw new Error(`sleep over while ${this.phase}`);
    }
  }

  /** Writes performed: 0 or 1, never more. */
  get writeCount(): number {
    return this.writes;
  }

  /** Set once the counter was read before the write. */
  get currentEvidence(): Rio8Evidence | null {
    return this.evidence;
  }

  private readbackFailed(detail: string): Rio8Action {
    if (--this.rbLeft > 0) return { do: 'sleep', ms: this.o.readbackDelayMs, why: 'readback-retry' };
    return this.finish({ status: 'unknown', detail: `write reply lost (${this.lostDetail}) and the read-back failed: ${detail}`, evidence: this.mustEvidence() });
  }

  private startTrain(now: number): Rio8Action {
    this.phase = 'train';
    this.budget = trainDeadlineMs(this.p.coins, this.onMs, this.offMs, this.o.pulseTimeFactor, this.o.pulseMarginMs);
    this.trainUntil = now + this.budget;
    // Bounded by count as well as by time, so a clock that stands still cannot loop forever.
    this.trainReadsLeft = Math.ceil(this.budget / this.o.pulseCheckIntervalMs) + 1;
    return { do: 'read-counter' };
  }

  private unreachable(detail: string): Rio8Action {
    return this.finish({ status: 'rejected', reason: 'unreachable', deviceCode: null, detail: `nothing written: ${detail}` });
  }

  private mustEvidence(): Rio8Evidence {
    if (this.evidence === null) throw new Error('no counter reading before the write');
    return this.evidence;
  }

  private expect(phase: Phase): void {
    if (this.phase !== phase) throw new Error(`event for ${phase} while ${this.phase}`);
  }

  private finish(outcome: CommandOutcome): Rio8Action {
    this.phase = 'done';
    return { do: 'done', outcome };
  }
}
