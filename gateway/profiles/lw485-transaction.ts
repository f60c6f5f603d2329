// One LW-485 command as a state machine with no I/O: the driver does the writing, reading and
// sleeping and feeds each result in; the machine says what to do next and, at the end, the
// outcome. All retry and deadline policy lives here, tested without a bus or a timer.
import type { IoResult } from './io.js';
import { mapResult } from './lw485-codec.js';
import type { Lw485Options } from './options.js';
import type { CommandEvidence, CommandOutcome } from './types.js';

export type Lw485Action =
  | { do: 'write' }
  | { do: 'read-result' }
  | { do: 'sleep'; ms: number; why: 'busy' | 'lost' | 'result-pending' }
  | { do: 'done'; outcome: CommandOutcome };

type Phase = 'writing' | 'reading' | 'done';

export class Lw485Transaction {
  private phase: Phase = 'writing';
  private busyLeft: number;
  private lostLeft: number;
  private mayHaveArrived = false;
  private acknowledged = false;
  private lastProblem = '';
  private readsLeft: number;
  private readUntil = 0;
  private sawResult = false;
  /** The device's last seq as the read-back saw it, for the driver's seq bookkeeping. */
  deviceLastSeq: number | null = null;

  constructor(
    readonly evidence: Extract<CommandEvidence, { profile: 'lw485' }>,
    private readonly o: Pick<Lw485Options, 'writeAttempts' | 'retryDelayMs' | 'busyAttempts' | 'busyRetryDelayMs' | 'resultDeadlineMs' | 'resultPollIntervalMs'>,
  ) {
    this.busyLeft = o.busyAttempts;
    this.lostLeft = o.writeAttempts;
    this.readsLeft = Math.ceil(o.resultDeadlineMs / o.resultPollIntervalMs) + 1;
  }

  start(): Lw485Action {
    return { do: 'write' };
  }

  /** Result of the fc16 write of the command block; `now` is monotonic ms. */
  onWrite(w: IoResult<null>, now: number): Lw485Action {
    if (this.phase !== 'writing') throw new Error(`write result while ${this.phase}`);
    if (w.ok) {
      this.acknowledged = true;
      return this.startReading(now);
    }
    const f = w.failure;
    this.lastProblem = f.detail;
    if (f.kind === 'exception' && f.code === 6 && --this.busyLeft > 0) return { do: 'sleep', ms: this.o.busyRetryDelayMs, why: 'busy' };
    if (f.kind === 'lost') {
      this.mayHaveArrived = true;
      return --this.lostLeft > 0 ? { do: 'sleep', ms: this.o.retryDelayMs, why: 'lost' } : this.startReading(now);
    }
    // A refusal or a request that never left: definite only if no earlier attempt may have run.
    if (this.mayHaveArrived) return this.startReading(now);
    if (f.kind === 'exception') {
      return this.finish({ status: 'rejected', reason: f.code === 6 ? 'busy' : 'device_exception', deviceCode: f.code, detail: `Modbus exception: ${f.detail}`, evidence: this.evidence });
    }
    return this.finish({ status: 'rejected', reason: 'unreachable', deviceCode: null, detail: f.detail, evidence: this.evidence });
  }

  /** A sleep the machine asked for is over. */
  onSlept(): Lw485Action {
    if (this.phase === 'writing') return { do: 'write' };
    if (this.phase === 'reading') return { do: 'read-result' };
    throw new Error('sleep after done');
  }

  /** Result of reading inputs 24-25. */
  onReadResult(r: IoResult<number[]>, now: number): Lw485Action {
    if (this.phase !== 'reading') throw new Error(`read result while ${this.phase}`);
    this.readsLeft--;
    const seq = this.evidence.seq;
    if (r.ok) {
      this.sawResult = true;
      const [lastSeq = 0, lastResult = 0] = r.value;
      this.deviceLastSeq = lastSeq;
      if (lastSeq === seq) {
        const m = mapResult(lastResult);
        if (m.status === 'accepted') return this.finish({ status: 'accepted', evidence: this.evidence });
        if (m.status === 'rejected') return this.finish({ status: 'rejected', reason: m.reason, deviceCode: m.deviceCode, detail: `result code ${lastResult}`, evidence: this.evidence });
        return this.finish({ status: 'unknown', detail: `seq ${seq} executed with result code ${lastResult}, which the datasheet does not list`, evidence: this.evidence });
      }
    }
    // Bounded by count as well as by time, so a clock that stands still cannot loop forever.
    if (now < this.readUntil && this.readsLeft > 0) return { do: 'sleep', ms: this.o.resultPollIntervalMs, why: 'result-pending' };
    const detail = !this.acknowledged
      ? `write not acknowledged (${this.lastProblem}) and last seq never showed ${seq}`
      : this.sawResult
        ? `write acknowledged but last seq never showed ${seq}`
        : 'write acknowledged but inputs 24-25 could not be read';
    return this.finish({ status: 'unknown', detail, evidence: this.evidence });
  }

  private startReading(now: number): Lw485Action {
    this.phase = 'reading';
    this.readUntil = now + this.o.resultDeadlineMs;
    return { do: 'read-result' };
  }

  private finish(outcome: CommandOutcome): Lw485Action {
    this.phase = 'done';
    return { do: 'done', outcome };
  }
}
